// Package spool keeps a live source's frames on local disk while the broker is unreachable and
// publishes them, in order, once it is back (store and forward). Frames come from a source's publish
// loop (pipeline.Publish) and go to Kafka through a streams.Producer.
//
// While the broker answers, frames go straight to it and the spool stays empty: nothing touches the
// disk. When a publish fails with a transient error, that frame and every later one are appended to
// the spool, and a forwarder publishes them from the oldest on, with backoff, until the spool is empty
// again; only then do new frames go straight to the broker again, so the topic sees them in
// acquisition order. When the spool holds MaxBytes, new frames are dropped and counted: consumers see
// the missing sequence numbers as a gap.
//
// On disk: segment files (<n>.seg) of records [length u32][CRC-32C u32][topic, key, encoded frame],
// and an "ack" file with the position up to which records were published. Every record is written
// with one write call, so killing the source process (kill -9) loses no appended frame: the page
// cache keeps it and the next run with the same directory publishes it. An operating-system crash
// or power loss can lose what was appended since the last fsync (every SyncInterval, 200 ms by
// default); a torn record at the end is detected by its checksum and cut off. The ack file is not
// fsynced: after a crash, frames published since its last write are published again, and consumers
// see them as duplicate sequence numbers.
package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Defaults for Config's zero fields.
const (
	DefaultMaxBytes     = 1 << 30
	defaultSegmentBytes = 16 << 20
	recordHeader        = 8
	// maxRecord bounds one record: a frame larger than this is corrupt (a 1000-channel 1 kHz
	// frame of a second is 4 MB).
	maxRecord = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrFull is returned by Append when the spool holds MaxBytes.
var ErrFull = errors.New("spool full")

// Position is a place in the spool: a segment number and a byte offset in it.
type Position struct {
	Segment uint64
	Offset  int64
}

// Record is one spooled message.
type Record struct {
	Topic string
	Key   []byte
	Value []byte
}

func (r Record) size() int64 {
	return int64(recordHeader + 4 + len(r.Topic) + len(r.Key) + len(r.Value))
}

// Spool is an on-disk FIFO of records. Append and Peek/Ack may be called from different goroutines.
type Spool struct {
	dir          string
	maxBytes     int64
	segmentBytes int64
	unlock       func()

	mu       sync.Mutex
	segs     []uint64 // segment numbers on disk, ascending; the last one is written
	w        *os.File // the last segment
	wSize    int64
	ack      Position // everything before it was published
	ackFile  *os.File
	pending  int   // records after ack
	bytes    int64 // bytes of the segment files (the disk use MaxBytes bounds)
	ackBytes int64 // bytes of the first segment before ack
	dirty    bool  // appended since the last Sync
	buf      []byte
}

// Open opens (creating it if needed) the spool in dir, locked against other processes, and finds
// the records a previous run left unpublished. maxBytes <= 0 means DefaultMaxBytes.
func Open(dir string, maxBytes int64) (*Spool, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, maxBytes: maxBytes, segmentBytes: min(defaultSegmentBytes, max(maxBytes/4, 4096)), unlock: unlock}
	if err := s.load(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Dir is the spool's directory.
func (s *Spool) Dir() string { return s.dir }

func (s *Spool) segPath(n uint64) string { return filepath.Join(s.dir, fmt.Sprintf("%016d.seg", n)) }

func (s *Spool) load() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err != nil {
			continue
		}
		s.segs = append(s.segs, n)
	}
	slices.Sort(s.segs)
	if s.ackFile, err = os.OpenFile(filepath.Join(s.dir, "ack"), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var ab [20]byte
	if n, _ := s.ackFile.ReadAt(ab[:], 0); n == len(ab) && crc32.Checksum(ab[:16], castagnoli) == binary.LittleEndian.Uint32(ab[16:]) {
		s.ack = Position{binary.LittleEndian.Uint64(ab[:8]), int64(binary.LittleEndian.Uint64(ab[8:16]))}
	}
	// Segments wholly before the ack were published; an ack that names no segment on disk (a fresh
	// or unreadable ack file) starts at the oldest one.
	for len(s.segs) > 0 && s.segs[0] < s.ack.Segment {
		_ = os.Remove(s.segPath(s.segs[0]))
		s.segs = s.segs[1:]
	}
	if len(s.segs) == 0 {
		s.segs = []uint64{s.ack.Segment + 1}
		s.ack = Position{s.segs[0], 0}
	} else if s.segs[0] != s.ack.Segment {
		s.ack = Position{s.segs[0], 0}
	}
	// Count what is left, cutting a torn record off the last segment.
	for i, n := range s.segs {
		var off int64
		f, err := os.Open(s.segPath(n))
		if os.IsNotExist(err) { // a fresh spool
			continue
		}
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		for {
			_, size, err := readRecord(f, off)
			if err != nil {
				break
			}
			if n != s.ack.Segment || off >= s.ack.Offset {
				s.pending++
			}
			off += size
		}
		f.Close()
		if i == len(s.segs)-1 {
			if err := os.Truncate(s.segPath(n), off); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("spool: cut a torn record: %w", err)
			}
		}
		if n == s.ack.Segment && s.ack.Offset > off {
			s.ack.Offset = off
		}
		s.bytes += off
		if i == len(s.segs)-1 {
			s.wSize = off
		}
	}
	s.ackBytes = s.ack.Offset
	w, err := os.OpenFile(s.segPath(s.segs[len(s.segs)-1]), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.w = w
	return nil
}

// readRecord reads the record at off, returning it and its size on disk. io.EOF (or a checksum or
// length error) ends the readable part of a segment.
func readRecord(f *os.File, off int64) (Record, int64, error) {
	var h [recordHeader]byte
	if _, err := f.ReadAt(h[:], off); err != nil {
		return Record{}, 0, io.EOF
	}
	n := binary.LittleEndian.Uint32(h[:4])
	if n < 4 || n > maxRecord {
		return Record{}, 0, errors.New("spool: bad record length")
	}
	body := make([]byte, n)
	if _, err := f.ReadAt(body, off+recordHeader); err != nil {
		return Record{}, 0, io.ErrUnexpectedEOF
	}
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(h[4:]) {
		return Record{}, 0, errors.New("spool: record checksum mismatch")
	}
	tl := int(binary.LittleEndian.Uint16(body[:2]))
	if 2+tl+2 > len(body) {
		return Record{}, 0, errors.New("spool: bad record")
	}
	topic := string(body[2 : 2+tl])
	kl := int(binary.LittleEndian.Uint16(body[2+tl : 4+tl]))
	if 4+tl+kl > len(body) {
		return Record{}, 0, errors.New("spool: bad record")
	}
	return Record{Topic: topic, Key: body[4+tl : 4+tl+kl], Value: body[4+tl+kl:]}, int64(recordHeader) + int64(n), nil
}

// Append adds a record at the end, with one write call. It returns ErrFull when the spool holds
// MaxBytes; the record is then not stored.
func (s *Spool) Append(r Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendLocked(r)
}

func (s *Spool) appendLocked(r Record) error {
	if len(r.Topic) > 0xffff || len(r.Key) > 0xffff {
		return fmt.Errorf("spool: topic or key too long")
	}
	size := r.size()
	if size > maxRecord {
		return fmt.Errorf("spool: %d-byte record exceeds %d", size, maxRecord)
	}
	if s.bytes-s.ackBytes+size > s.maxBytes {
		return ErrFull
	}
	if s.wSize > 0 && s.wSize+size > s.segmentBytes {
		if err := s.roll(); err != nil {
			return err
		}
	}
	b := s.buf[:0]
	b = binary.LittleEndian.AppendUint32(b, uint32(size-recordHeader))
	b = append(b, 0, 0, 0, 0) // checksum, below
	b = binary.LittleEndian.AppendUint16(b, uint16(len(r.Topic)))
	b = append(b, r.Topic...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(r.Key)))
	b = append(b, r.Key...)
	b = append(b, r.Value...)
	binary.LittleEndian.PutUint32(b[4:8], crc32.Checksum(b[recordHeader:], castagnoli))
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		// A partial write would be cut off at the next Open; stop using this segment.
		_ = s.roll()
		return fmt.Errorf("spool: write: %w", err)
	}
	s.wSize += size
	s.bytes += size
	s.pending++
	s.dirty = true
	return nil
}

// roll starts a new segment.
func (s *Spool) roll() error {
	_ = s.w.Sync()
	_ = s.w.Close()
	n := s.segs[len(s.segs)-1] + 1
	w, err := os.OpenFile(s.segPath(n), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("spool: new segment: %w", err)
	}
	s.w, s.wSize = w, 0
	s.segs = append(s.segs, n)
	return nil
}

// Peek returns up to max unpublished records from the oldest on (at most about maxBytes of them),
// and the position after the last one, for Ack.
func (s *Spool) Peek(max int, maxBytes int64) ([]Record, Position, error) {
	s.mu.Lock()
	if s.pending == 0 { // the forwarder looks every SyncInterval: an empty spool costs no file open
		pos := s.ack
		s.mu.Unlock()
		return nil, pos, nil
	}
	pos, segs := s.ack, slices.Clone(s.segs)
	s.mu.Unlock()
	var out []Record
	var total int64
	for len(out) < max && total < maxBytes {
		f, err := os.Open(s.segPath(pos.Segment))
		if err != nil {
			return out, pos, fmt.Errorf("spool: %w", err)
		}
		for len(out) < max && total < maxBytes {
			r, size, err := readRecord(f, pos.Offset)
			if err != nil {
				break
			}
			out = append(out, r)
			pos.Offset += size
			total += size
		}
		f.Close()
		i := slices.Index(segs, pos.Segment)
		if len(out) >= max || total >= maxBytes || i < 0 || i == len(segs)-1 {
			break
		}
		pos = Position{segs[i+1], 0}
	}
	return out, pos, nil
}

// Ack marks every record before pos (returned by Peek after n records) as published: segments
// wholly before it are deleted, and when nothing is left the spool starts a fresh segment.
func (s *Spool) Ack(pos Position, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending -= n
	for len(s.segs) > 1 && s.segs[0] < pos.Segment {
		fi, err := os.Stat(s.segPath(s.segs[0]))
		if err == nil {
			s.bytes -= fi.Size()
		}
		_ = os.Remove(s.segPath(s.segs[0]))
		s.segs = s.segs[1:]
	}
	s.ack = pos
	s.ackBytes = pos.Offset
	if s.pending <= 0 && pos.Segment == s.segs[len(s.segs)-1] {
		// Everything was published: start over in an empty segment.
		s.pending = 0
		old := s.segs[len(s.segs)-1]
		if err := s.roll(); err != nil {
			return err
		}
		_ = os.Remove(s.segPath(old))
		s.segs = s.segs[len(s.segs)-1:]
		s.ack, s.ackBytes, s.bytes = Position{s.segs[0], 0}, 0, 0
	}
	var ab [20]byte
	binary.LittleEndian.PutUint64(ab[:8], s.ack.Segment)
	binary.LittleEndian.PutUint64(ab[8:16], uint64(s.ack.Offset))
	binary.LittleEndian.PutUint32(ab[16:], crc32.Checksum(ab[:16], castagnoli))
	if _, err := s.ackFile.WriteAt(ab[:], 0); err != nil {
		return fmt.Errorf("spool: write ack: %w", err)
	}
	return nil
}

// Pending returns the records and bytes waiting to be published.
func (s *Spool) Pending() (records int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending, s.bytes - s.ackBytes
}

// Sync fsyncs what was appended since the last Sync.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty || s.w == nil {
		return nil
	}
	s.dirty = false
	if err := s.w.Sync(); err != nil {
		return fmt.Errorf("spool: fsync: %w", err)
	}
	return nil
}

// Close syncs and closes the spool; unpublished records stay for the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.Sync(), s.w.Close())
		s.w = nil
	}
	if s.ackFile != nil {
		errs = append(errs, s.ackFile.Close())
		s.ackFile = nil
	}
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
	return errors.Join(errs...)
}
