package tokenizer

import (
	"fmt"

	"github.com/neurostream/neurostream/internal/snapshot"
)

// AppendState appends the tokenizer's partial patch and stream position to b (see package
// snapshot), so a restarted pipeline resumes patching where this one stood.
func (t *Tokenizer) AppendState(b []byte) []byte {
	b = snapshot.AppendUint(b, uint64(len(t.chans)))
	b = snapshot.AppendUint(b, uint64(t.p))
	b = snapshot.AppendInt(b, t.pushed)
	for c := range t.chans {
		b = snapshot.AppendFloat32s(b, t.buf[c*t.p:c*t.p+t.fill])
	}
	return b
}

// RestoreState reads what AppendState wrote and returns the bytes after it.
func (t *Tokenizer) RestoreState(b []byte) ([]byte, error) {
	r := snapshot.NewReader(b)
	r.Expect("tokenized channels", uint64(len(t.chans)))
	r.Expect("patch length", uint64(t.p))
	pushed := r.Int()
	fill := -1
	for c := range t.chans {
		n := r.Float32s(t.buf[c*t.p : (c+1)*t.p])
		if fill >= 0 && n != fill && r.Err() == nil {
			return b, fmt.Errorf("restore tokenizer: channel %d holds %d samples, channel 0 %d", c, n, fill)
		}
		fill = n
	}
	if err := r.Err(); err != nil {
		return b, fmt.Errorf("restore tokenizer: %w", err)
	}
	if fill >= t.p || pushed < int64(fill) {
		return b, fmt.Errorf("restore tokenizer: inconsistent position (%d held, %d pushed)", fill, pushed)
	}
	t.fill, t.pushed = fill, pushed
	return r.Rest(), nil
}

// AppendState appends the joint tokenizer's partial block and stream position to b (see package
// snapshot), so a restarted pipeline resumes where this one stood.
func (t *JointTokenizer) AppendState(b []byte) []byte {
	b = snapshot.AppendUint(b, uint64(len(t.chans)))
	b = snapshot.AppendUint(b, uint64(t.c.BlockSamples))
	b = snapshot.AppendInt(b, t.pushed)
	for _, x := range t.block {
		b = snapshot.AppendFloat32s(b, x[:t.fill])
	}
	return b
}

// RestoreState reads what AppendState wrote and returns the bytes after it.
func (t *JointTokenizer) RestoreState(b []byte) ([]byte, error) {
	r := snapshot.NewReader(b)
	r.Expect("coded channels", uint64(len(t.chans)))
	r.Expect("block length", uint64(t.c.BlockSamples))
	pushed := r.Int()
	fill := -1
	for c, x := range t.block {
		n := r.Float32s(x)
		if fill >= 0 && n != fill && r.Err() == nil {
			return b, fmt.Errorf("restore joint tokenizer: channel %d holds %d samples, channel 0 %d", c, n, fill)
		}
		fill = n
	}
	if err := r.Err(); err != nil {
		return b, fmt.Errorf("restore joint tokenizer: %w", err)
	}
	if fill >= t.c.BlockSamples || pushed < int64(fill) {
		return b, fmt.Errorf("restore joint tokenizer: inconsistent position (%d held, %d pushed)", fill, pushed)
	}
	t.fill, t.pushed = fill, pushed
	return r.Rest(), nil
}
