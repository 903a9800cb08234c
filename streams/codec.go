package streams

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/neurostream/neurostream/streams/pb"
)

// Frames are encoded by hand with protowire instead of the generated code: proto.Marshal/Unmarshal
// allocate a new message, a new samples slice and strings for every frame, and frames are the one
// message that flows at the sampling rate of every stream. The bytes are the same protobuf encoding
// (tests check both directions against package pb).

const (
	frameStreamID     = 1
	frameSeq          = 2
	frameSourceTime   = 3
	frameAcquiredAt   = 4
	frameNumSamples   = 5
	frameNumChannels  = 6
	frameSamples      = 7
	frameMarkers      = 8
	frameEpoch        = 9
	markerSampleOff   = 1
	markerCode        = 2
	markerLabel       = 3
	markerDuration    = 4
	maxFrameValues    = 1 << 26 // 64 Mi samples: far beyond any frame, small enough to refuse garbage
	errFramePrefixFmt = "decode frame: %w"
)

var errTruncated = errors.New("truncated or malformed protobuf")

// AppendFrame appends f's protobuf encoding to dst and returns the extended slice. It does not
// allocate when dst has room.
func AppendFrame(dst []byte, f *Frame) []byte {
	if f.StreamID != "" {
		dst = protowire.AppendTag(dst, frameStreamID, protowire.BytesType)
		dst = protowire.AppendString(dst, f.StreamID)
	}
	if f.Seq != 0 {
		dst = protowire.AppendTag(dst, frameSeq, protowire.VarintType)
		dst = protowire.AppendVarint(dst, f.Seq)
	}
	if f.SourceTimeNs != 0 {
		dst = protowire.AppendTag(dst, frameSourceTime, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(f.SourceTimeNs))
	}
	if f.AcquiredAtNs != 0 {
		dst = protowire.AppendTag(dst, frameAcquiredAt, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(f.AcquiredAtNs))
	}
	if f.NumSamples != 0 {
		dst = protowire.AppendTag(dst, frameNumSamples, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(uint32(f.NumSamples)))
	}
	if f.NumChannels != 0 {
		dst = protowire.AppendTag(dst, frameNumChannels, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(uint32(f.NumChannels)))
	}
	if len(f.Samples) > 0 {
		dst = protowire.AppendTag(dst, frameSamples, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(4*len(f.Samples)))
		for _, v := range f.Samples {
			dst = protowire.AppendFixed32(dst, math.Float32bits(v))
		}
	}
	if f.Epoch != 0 {
		dst = protowire.AppendTag(dst, frameEpoch, protowire.VarintType)
		dst = protowire.AppendVarint(dst, f.Epoch)
	}
	for i := range f.Markers {
		m := &f.Markers[i]
		dst = protowire.AppendTag(dst, frameMarkers, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(markerSize(m)))
		if m.SampleOffset != 0 {
			dst = protowire.AppendTag(dst, markerSampleOff, protowire.VarintType)
			dst = protowire.AppendVarint(dst, uint64(int64(m.SampleOffset)))
		}
		if m.Code != 0 {
			dst = protowire.AppendTag(dst, markerCode, protowire.VarintType)
			dst = protowire.AppendVarint(dst, uint64(int64(m.Code)))
		}
		if m.Label != "" {
			dst = protowire.AppendTag(dst, markerLabel, protowire.BytesType)
			dst = protowire.AppendString(dst, m.Label)
		}
		if m.DurationSec != 0 {
			dst = protowire.AppendTag(dst, markerDuration, protowire.Fixed64Type)
			dst = protowire.AppendFixed64(dst, math.Float64bits(m.DurationSec))
		}
	}
	return dst
}

func markerSize(m *Marker) int {
	n := 0
	if m.SampleOffset != 0 {
		n += 1 + protowire.SizeVarint(uint64(int64(m.SampleOffset)))
	}
	if m.Code != 0 {
		n += 1 + protowire.SizeVarint(uint64(int64(m.Code)))
	}
	if m.Label != "" {
		n += 1 + protowire.SizeBytes(len(m.Label))
	}
	if m.DurationSec != 0 {
		n += 1 + protowire.SizeFixed64()
	}
	return n
}

// DecodeFrame decodes b into f, reusing f's sample and marker buffers and, when the stream id is
// unchanged, its StreamID string, so that decoding a stream's frames into one Frame does not allocate.
// Unknown fields are skipped, as protobuf requires, so newer producers stay readable.
func DecodeFrame(b []byte, f *Frame) error {
	prevID := f.StreamID
	f.Reset()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf(errFramePrefixFmt, errTruncated)
		}
		b = b[n:]
		switch {
		case num == frameStreamID && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf(errFramePrefixFmt, errTruncated)
			}
			if string(v) == prevID {
				f.StreamID = prevID
			} else {
				f.StreamID = string(v)
			}
			b = b[n:]
		case (num >= frameSeq && num <= frameNumChannels || num == frameEpoch) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf(errFramePrefixFmt, errTruncated)
			}
			b = b[n:]
			switch num {
			case frameSeq:
				f.Seq = v
			case frameSourceTime:
				f.SourceTimeNs = int64(v)
			case frameAcquiredAt:
				f.AcquiredAtNs = int64(v)
			case frameNumSamples:
				f.NumSamples = int(uint32(v))
			case frameNumChannels:
				f.NumChannels = int(uint32(v))
			case frameEpoch:
				f.Epoch = v
			}
		case num == frameSamples && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || len(v)%4 != 0 || len(f.Samples)+len(v)/4 > maxFrameValues {
				return fmt.Errorf(errFramePrefixFmt, errTruncated)
			}
			for i := 0; i < len(v); i += 4 {
				f.Samples = append(f.Samples, math.Float32frombits(uint32(v[i])|uint32(v[i+1])<<8|uint32(v[i+2])<<16|uint32(v[i+3])<<24))
			}
			b = b[n:]
		case num == frameSamples && typ == protowire.Fixed32Type: // unpacked encoding is legal protobuf
			v, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return fmt.Errorf(errFramePrefixFmt, errTruncated)
			}
			f.Samples = append(f.Samples, math.Float32frombits(v))
			b = b[n:]
		case num == frameMarkers && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf(errFramePrefixFmt, errTruncated)
			}
			m, err := decodeMarker(v)
			if err != nil {
				return fmt.Errorf(errFramePrefixFmt, err)
			}
			f.Markers = append(f.Markers, m)
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf(errFramePrefixFmt, errTruncated)
			}
			b = b[n:]
		}
	}
	return nil
}

func decodeMarker(b []byte) (Marker, error) {
	var m Marker
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return m, errTruncated
		}
		b = b[n:]
		switch {
		case (num == markerSampleOff || num == markerCode) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return m, errTruncated
			}
			if num == markerSampleOff {
				m.SampleOffset = int32(v)
			} else {
				m.Code = int32(v)
			}
			b = b[n:]
		case num == markerLabel && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return m, errTruncated
			}
			m.Label = string(v)
			b = b[n:]
		case num == markerDuration && typ == protowire.Fixed64Type:
			v, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return m, errTruncated
			}
			m.DurationSec = math.Float64frombits(v)
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return m, errTruncated
			}
			b = b[n:]
		}
	}
	return m, nil
}

// MarshalStreamInfo encodes s as a pb.StreamInfo.
func MarshalStreamInfo(s *StreamInfo) ([]byte, error) {
	msg := &pb.StreamInfo{
		SchemaVersion: s.SchemaVersion,
		StreamId:      s.StreamID,
		Device:        s.Device,
		Subject:       s.Subject,
		Session:       s.Session,
		SampleRateHz:  s.SampleRateHz,
		Epoch:         s.Epoch,
		StartTimeNs:   s.StartTimeNs,
	}
	if msg.SchemaVersion == 0 {
		msg.SchemaVersion = SchemaVersion
	}
	for _, c := range s.Channels {
		pc := &pb.Channel{Name: c.Name, Type: pb.ChannelType(c.Type), Unit: c.Unit}
		if c.HasPosition {
			pc.Position = &pb.Vec3{X: c.Position[0], Y: c.Position[1], Z: c.Position[2]}
		}
		if c.HasOrientation {
			pc.Orientation = &pb.Vec3{X: c.Orientation[0], Y: c.Orientation[1], Z: c.Orientation[2]}
		}
		msg.Channels = append(msg.Channels, pc)
	}
	return proto.Marshal(msg)
}

// UnmarshalStreamInfo decodes a pb.StreamInfo and refuses schema versions newer than this build.
func UnmarshalStreamInfo(b []byte) (*StreamInfo, error) {
	var msg pb.StreamInfo
	if err := proto.Unmarshal(b, &msg); err != nil {
		return nil, fmt.Errorf("decode stream info: %w", err)
	}
	if msg.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("decode stream info %q: schema version %d is newer than this build's %d; upgrade neurostream",
			msg.StreamId, msg.SchemaVersion, SchemaVersion)
	}
	s := &StreamInfo{
		SchemaVersion: msg.SchemaVersion,
		StreamID:      msg.StreamId,
		Device:        msg.Device,
		Subject:       msg.Subject,
		Session:       msg.Session,
		SampleRateHz:  msg.SampleRateHz,
		Epoch:         msg.Epoch,
		StartTimeNs:   msg.StartTimeNs,
	}
	for _, pc := range msg.Channels {
		c := Channel{Name: pc.Name, Type: ChannelType(pc.Type), Unit: pc.Unit}
		if p := pc.Position; p != nil {
			c.Position, c.HasPosition = [3]float64{p.X, p.Y, p.Z}, true
		}
		if o := pc.Orientation; o != nil {
			c.Orientation, c.HasOrientation = [3]float64{o.X, o.Y, o.Z}, true
		}
		s.Channels = append(s.Channels, c)
	}
	return s, nil
}

// FeatureVector is one window's named feature values.
type FeatureVector struct {
	StreamID        string
	WindowEndNs     int64
	WindowEndSample int64
	AcquiredAtNs    int64
	Names           []string
	Values          []float64
}

// MarshalFeatures encodes v as a pb.FeatureVector.
func MarshalFeatures(v *FeatureVector) ([]byte, error) {
	return proto.Marshal(&pb.FeatureVector{
		StreamId: v.StreamID, WindowEndNs: v.WindowEndNs, WindowEndSample: v.WindowEndSample,
		AcquiredAtNs: v.AcquiredAtNs, Names: v.Names, Values: v.Values,
	})
}

// UnmarshalFeatures decodes a pb.FeatureVector.
func UnmarshalFeatures(b []byte) (*FeatureVector, error) {
	var msg pb.FeatureVector
	if err := proto.Unmarshal(b, &msg); err != nil {
		return nil, fmt.Errorf("decode feature vector: %w", err)
	}
	return &FeatureVector{StreamID: msg.StreamId, WindowEndNs: msg.WindowEndNs, WindowEndSample: msg.WindowEndSample,
		AcquiredAtNs: msg.AcquiredAtNs, Names: msg.Names, Values: msg.Values}, nil
}
