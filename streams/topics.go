package streams

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/segmentio/kafka-go"
)

// Topics names neurostream's topics under a namespace, so several deployments can share a cluster.
// Every message is keyed by stream id: a stream stays ordered within one partition, and streams
// spread over partitions.
type Topics struct {
	Raw         string // frames as acquired
	Clean       string // frames after the DSP stages
	Features    string // FeatureVector messages
	Tokens      string // discrete tokens from the tokenizer
	Detokenized string // frames reconstructed from tokens by the detokenizer
	Predictions string // JSON Prediction messages
	StreamInfo  string // compacted: the latest StreamInfo per stream and topic kind
	// State is compacted: the latest snapshot of every pipeline's per-stream stage state (filter
	// memory, window buffers), keyed "<consumer group>/<stream id>", so a restarted or rebalanced
	// pipeline resumes exactly.
	State string
}

// DefaultNamespace prefixes topic names when none is configured.
const DefaultNamespace = "neurostream"

// NewTopics returns the topic names under namespace ("" means DefaultNamespace).
func NewTopics(namespace string) Topics {
	if namespace == "" {
		namespace = DefaultNamespace
	}
	return Topics{
		Raw:         namespace + ".raw",
		Clean:       namespace + ".clean",
		Features:    namespace + ".features",
		Tokens:      namespace + ".tokens",
		Detokenized: namespace + ".detokenized",
		Predictions: namespace + ".predictions",
		StreamInfo:  namespace + ".stream-info",
		State:       namespace + ".state",
	}
}

// All lists every topic name.
func (t Topics) All() []string {
	return []string{t.Raw, t.Clean, t.Features, t.Tokens, t.Detokenized, t.Predictions, t.StreamInfo, t.State}
}

// Resolve maps a short name used in configs ("raw", "clean", ...) or a full topic name to the full name.
func (t Topics) Resolve(name string) (string, error) {
	switch name {
	case "raw":
		return t.Raw, nil
	case "clean":
		return t.Clean, nil
	case "features":
		return t.Features, nil
	case "tokens":
		return t.Tokens, nil
	case "detokenized":
		return t.Detokenized, nil
	case "predictions":
		return t.Predictions, nil
	case "stream-info":
		return t.StreamInfo, nil
	}
	for _, full := range t.All() {
		if name == full {
			return full, nil
		}
	}
	return "", fmt.Errorf("unknown topic %q: use raw, clean, features, tokens, predictions, stream-info or one of %v", name, t.All())
}

// EnsureTopics creates the namespace's topics that do not exist yet: partitions each (stream-info
// and state get one partition and log compaction), with the given replication factor. While the broker is
// unreachable it waits for it (cfg.Outages), until ctx ends.
func EnsureTopics(ctx context.Context, cfg Config, topics Topics, partitions, replication int) error {
	return cfg.Outages.Retry(ctx, "create topics", func(ctx context.Context) error {
		return ensureTopics(ctx, cfg, topics, partitions, replication)
	})
}

func ensureTopics(ctx context.Context, cfg Config, topics Topics, partitions, replication int) error {
	if partitions <= 0 {
		partitions = 8
	}
	if replication <= 0 {
		replication = 1
	}
	conn, err := cfg.dialController(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var specs []kafka.TopicConfig
	for _, name := range topics.All() {
		spec := kafka.TopicConfig{Topic: name, NumPartitions: partitions, ReplicationFactor: replication}
		if name == topics.StreamInfo || name == topics.State {
			spec.NumPartitions = 1
			spec.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}
		}
		specs = append(specs, spec)
	}
	if err := conn.CreateTopics(specs...); err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("create topics %v on %v: %w", topics.All(), cfg.Brokers, err)
	}
	return nil
}

func (c Config) dialController(ctx context.Context) (*kafka.Conn, error) {
	d, err := c.Dialer()
	if err != nil {
		return nil, err
	}
	var lastErr error
	for _, b := range c.Brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err != nil {
			lastErr = err
			continue
		}
		ctrl, err := conn.Controller()
		conn.Close()
		if err != nil {
			lastErr = err
			continue
		}
		cc, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
		if err != nil {
			lastErr = err
			continue
		}
		return cc, nil
	}
	if !Transient(lastErr) {
		return nil, fmt.Errorf("connect to Kafka at %v: %w", c.Brokers, lastErr)
	}
	return nil, fmt.Errorf("connect to Kafka at %v: %w (is the broker running? without --brokers, neurostream starts its own)", c.Brokers, lastErr)
}
