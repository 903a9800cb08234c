package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/pb"
)

func runConsume(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("consume", "[flags]",
		"Prints messages from a neurostream topic: predictions, frames, features, tokens or stream info,\n"+
			"decoded from the wire schema. Pretty by default, one JSON object per line with --json (protobuf's\n"+
			"JSON mapping, except that tokens' packed offset and scale codes print as one number per channel).")
	fs.SetOutput(out)
	var kf kafkaFlags
	kf.register(fs)
	topic := fs.String("topic", "predictions", "raw, clean, features, tokens, detokenized, predictions, stream-info, or a full topic name")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	fromStart := fs.Bool("from-start", false, "start at the oldest retained message instead of new ones")
	stream := fs.String("stream", "", "only this stream id")
	count := fs.Int("n", 0, "stop after N messages (0: run until Ctrl-C)")
	group := fs.String("group", "", "consume as a member of this consumer group (default: a throwaway group, or --partition)")
	partition := fs.Int("partition", -1, "read one partition without a group (-1: use a throwaway group to read all partitions)")
	repeats := fs.Bool("repeats", false, "also print repeats: frames with a sequence number already printed, and predictions,\n"+
		"features and tokens of a window already printed (a pipeline that resumed after a crash publishes the\n"+
		"outputs since its last snapshot again, identical)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := newLogger(os.Stderr, false)
	kc, stop, err := kf.connect(ctx, streams.Config{}, log)
	if err != nil {
		return err
	}
	defer stop()
	name, err := kc.Topics().Resolve(*topic)
	if err != nil {
		return err
	}
	cc := streams.ConsumerConfig{Topic: name, FromStart: *fromStart, GroupID: *group}
	if cc.GroupID == "" {
		if *partition >= 0 {
			cc.Partition = *partition
		} else {
			cc.GroupID = fmt.Sprintf("neurostream-consume-%d", time.Now().UnixNano())
		}
	}
	c, err := streams.NewConsumer(kc, cc)
	if err != nil {
		return err
	}
	defer c.Close()
	if !*fromStart && *partition < 0 && *group == "" {
		// Otherwise a consume started after its source stopped prints nothing, with no word why.
		log.Info("waiting for new messages (--from-start: the retained ones first); Ctrl-C to stop", "topic", name)
	}
	// Protobuf's JSON mapping with the .proto's field names: snake_case, as predictions and tokens are.
	pj := protojson.MarshalOptions{UseProtoNames: true}
	var f streams.Frame
	var tk streams.Tokens
	rf := newRepeatFilter()
	for n := 0; *count == 0 || n < *count; {
		m, err := c.Fetch(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("consume %s: %w", name, err)
		}
		if *stream != "" && string(m.Key) != *stream && !strings.HasSuffix(string(m.Key), "/"+*stream) {
			continue
		}
		var v any
		typ := streams.MessageType(m)
		if typ == "" { // producers other than ours need not set the header; the topic says what it holds
			typ = typeOfTopic(kc.Topics(), name)
		}
		if !*repeats && rf.repeat(typ, m.Value) {
			continue
		}
		n++
		if *asJSON && (typ == streams.TypeFrame || typ == streams.TypeStreamInfo || typ == streams.TypeFeatures || typ == streams.TypeTokens) {
			var msg proto.Message = &pb.Frame{}
			switch typ {
			case streams.TypeStreamInfo:
				msg = &pb.StreamInfo{}
			case streams.TypeFeatures:
				msg = &pb.FeatureVector{}
			case streams.TypeTokens:
				msg = &pb.Tokens{}
			}
			if err := proto.Unmarshal(m.Value, msg); err != nil {
				fmt.Fprintf(os.Stderr, "skipping undecodable %s at %s[%d]@%d: %v\n", typ, m.Topic, m.Partition, m.Offset, err)
				continue
			}
			b, err := pj.Marshal(msg)
			if tk, ok := msg.(*pb.Tokens); ok && err == nil && tk.SideBits > 0 {
				b, err = readableSideCodes(b, tk)
			}
			if err != nil { // one message that JSON cannot carry spoils only itself
				fmt.Fprintf(os.Stderr, "skipping %s at %s[%d]@%d: %v\n", typ, m.Topic, m.Partition, m.Offset, err)
				continue
			}
			fmt.Fprintln(out, string(b))
			continue
		}
		switch typ {
		case streams.TypeFrame:
			if err := streams.DecodeFrame(m.Value, &f); err != nil {
				fmt.Fprintf(os.Stderr, "skipping undecodable frame at %s[%d]@%d: %v\n", m.Topic, m.Partition, m.Offset, err)
				continue
			}
			fmt.Fprintf(out, "frame %s #%d t=%.3fs %d samples x %d ch, markers %v\n", f.StreamID, f.Seq,
				float64(f.SourceTimeNs)/1e9, f.NumSamples, f.NumChannels, f.Markers)
			continue
		case streams.TypeStreamInfo:
			info, err := streams.UnmarshalStreamInfo(m.Value)
			if err != nil {
				fmt.Fprintf(os.Stderr, "skipping undecodable stream info at %s[%d]@%d: %v\n", m.Topic, m.Partition, m.Offset, err)
				continue
			}
			v = info
		case streams.TypeFeatures:
			fv, err := streams.UnmarshalFeatures(m.Value)
			if err != nil {
				fmt.Fprintf(os.Stderr, "skipping undecodable features at %s[%d]@%d: %v\n", m.Topic, m.Partition, m.Offset, err)
				continue
			}
			fmt.Fprintf(out, "%s window ending at sample %d: %s\n", fv.StreamID, fv.WindowEndSample, fmtFeatures(fv.Names, fv.Values, 6))
			continue
		case streams.TypeTokens:
			if err := streams.DecodeTokens(m.Value, &tk); err != nil {
				fmt.Fprintf(os.Stderr, "skipping undecodable tokens at %s[%d]@%d: %v\n", m.Topic, m.Partition, m.Offset, err)
				continue
			}
			if len(tk.Coded) > 0 {
				fmt.Fprintf(out, "%s %s block ending at sample %d: %d channels coded jointly in %d bytes\n", tk.StreamID, tk.Codebook, tk.WindowEndSample, len(tk.ChannelKeys), len(tk.Coded))
				continue
			}
			side := ""
			if tk.SideBits > 0 {
				side = fmt.Sprintf(" (mean and scale as %d-bit codes)", tk.SideBits)
			}
			fmt.Fprintf(out, "%s %s patch ending at sample %d%s: %s\n", tk.StreamID, tk.Codebook, tk.WindowEndSample, side, fmtTokens(tk.Tokens, 16))
			continue
		default: // predictions and anything JSON
			var p streams.Prediction
			if err := json.Unmarshal(m.Value, &p); err != nil {
				fmt.Fprintf(os.Stderr, "skipping non-JSON message at %s[%d]@%d\n", m.Topic, m.Partition, m.Offset)
				continue
			}
			if *asJSON {
				fmt.Fprintln(out, string(m.Value))
				continue
			}
			fmt.Fprintf(out, "%s %-12s %-12s %s latency %.2f ms\n", p.StreamID, p.Decoder, p.Label, fmtScores(p.Scores), float64(p.LatencyNs)/1e6)
			continue
		}
		fmt.Fprintf(out, "%s %s: %+v\n", typ, m.Key, v)
	}
	return nil
}

// repeatFilter recognises outputs printed already: a frame by its stream, epoch and sequence number,
// a prediction, feature vector or tokens message by its stream, producer, window end and the
// acquisition time it carries (a pipeline that starts cold again reuses window ends, never with the
// same acquisition time).
type repeatFilter struct {
	seq    *streams.SequenceChecker
	recent map[string][]int64 // per stream and producer: identities of the latest windows
	f      streams.Frame
	tk     streams.Tokens
}

const recentWindows = 256

func newRepeatFilter() *repeatFilter {
	return &repeatFilter{seq: streams.NewSequenceChecker(), recent: make(map[string][]int64)}
}

// repeat reports whether the message was seen already; messages it cannot decode are not.
func (r *repeatFilter) repeat(typ string, b []byte) bool {
	switch typ {
	case streams.TypeFrame:
		if streams.DecodeFrame(b, &r.f) != nil {
			return false
		}
		return r.seq.Check(r.f.StreamID, r.f.Epoch, r.f.Seq).Duplicate
	case streams.TypeFeatures:
		v, err := streams.UnmarshalFeatures(b)
		if err != nil {
			return false
		}
		return r.window(v.StreamID, v.WindowEndSample, v.AcquiredAtNs)
	case streams.TypeTokens:
		if streams.DecodeTokens(b, &r.tk) != nil {
			return false
		}
		return r.window(r.tk.StreamID+"/"+r.tk.Codebook, r.tk.WindowEndSample, r.tk.AcquiredAtNs)
	case streams.TypePrediction, "":
		var p streams.Prediction
		if json.Unmarshal(b, &p) != nil || p.StreamID == "" {
			return false
		}
		return r.window(p.StreamID+"/"+p.Decoder, p.WindowEndSample, p.AcquiredAtNs)
	}
	return false
}

func (r *repeatFilter) window(key string, end, acquiredAtNs int64) bool {
	ids := r.recent[key]
	for i := 0; i+1 < len(ids); i += 2 {
		if ids[i] == end && ids[i+1] == acquiredAtNs {
			return true
		}
	}
	if len(ids) >= 2*recentWindows {
		ids = ids[2:]
	}
	r.recent[key] = append(ids, end, acquiredAtNs)
	return false
}

// typeOfTopic is the message type a topic of ours carries, for records without the type header.
func typeOfTopic(t streams.Topics, topic string) string {
	switch topic {
	case t.Raw, t.Clean, t.Detokenized:
		return streams.TypeFrame
	case t.StreamInfo:
		return streams.TypeStreamInfo
	case t.Features:
		return streams.TypeFeatures
	case t.Tokens:
		return streams.TypeTokens
	case t.Predictions:
		return streams.TypePrediction
	}
	return ""
}

func fmtScores(s []streams.Score) string {
	var b strings.Builder
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%.2f", x.Label, x.Value)
	}
	return b.String()
}

// fmtTokens prints the first n tokens (one per channel) and how many more there are.
func fmtTokens(t []uint16, n int) string {
	var b strings.Builder
	for i, v := range t[:min(n, len(t))] {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprint(&b, v)
	}
	if len(t) > n {
		fmt.Fprintf(&b, " ... (%d channels)", len(t))
	}
	return b.String()
}

// fmtFeatures prints the first n name=value pairs and how many more there are.
func fmtFeatures(names []string, values []float64, n int) string {
	var b strings.Builder
	for i := range min(n, len(values), len(names)) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%.4g", names[i], values[i])
	}
	if len(values) > n {
		fmt.Fprintf(&b, " ... (%d features)", len(values))
	}
	return b.String()
}

// readableSideCodes replaces the base64 of a tokens message's packed offset and scale codes (as
// protobuf's JSON mapping prints bytes) in its JSON b by the codes, one number per channel.
func readableSideCodes(b []byte, tk *pb.Tokens) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	for name, packed := range map[string][]byte{"offset_codes": tk.OffsetCodes, "scale_codes": tk.ScaleCodes} {
		codes, err := streams.UnpackCodes(nil, packed, len(tk.ChannelKeys), int(tk.SideBits))
		if err != nil {
			return nil, fmt.Errorf("tokens %s: %s: %w", tk.StreamId, name, err)
		}
		wide := make([]int, len(codes)) // []uint8 would print as base64 again
		for i, c := range codes {
			wide[i] = int(c)
		}
		if fields[name], err = json.Marshal(wide); err != nil {
			return nil, err
		}
	}
	return json.Marshal(fields)
}
