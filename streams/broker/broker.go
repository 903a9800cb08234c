// Package broker runs an embedded Kafka-protocol broker (franz-go's kfake) inside neurostream, so that
// the demo, the tests and single-machine setups need no Kafka installation. Clients talk the real
// Kafka protocol to it over TCP exactly as they would to Apache Kafka; production deployments point
// --brokers at a real cluster instead (see docker-compose.yml).
package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Config sets up an embedded broker. The zero value listens on 127.0.0.1:9092 (or a free port if
// that is taken), keeps data in memory and bounds it by retention.
type Config struct {
	// Addr is host:port to listen on; port 0 picks a free one. Default 127.0.0.1:9092.
	Addr string
	// FallbackToFreePort listens on a free port when Addr's port is taken instead of failing.
	FallbackToFreePort bool
	// DataDir makes the broker persistent (Kafka's on-disk batch format), surviving restarts; ""
	// keeps data in memory (or in a temporary directory, with TempLog).
	DataDir string
	// TempLog keeps the log in a temporary directory that Close removes instead of in memory.
	// kfake's in-memory files grow by doubling, copying and zeroing as they go, and hold up to the
	// retention bound in the Go heap; through the page cache, replaying 306 channels at 1 kHz ran at
	// 130-145x real time instead of 85x (BenchmarkReplayMEG/.../fast). Each produce and fetch then
	// costs file system calls in the broker's one goroutine: bench latency's single stream took
	// p50 0.77-1.03 instead of 0.54-0.85 ms, 100 streams 2.7-5.0 instead of 1.2-1.8 ms. So live
	// pipelines keep memory, bulk publishing (replay) takes TempLog.
	TempLog bool
	// SyncWrites fsyncs every produce (only with DataDir).
	SyncWrites bool
	// Retention bounds what each partition keeps, so long runs do not grow without limit.
	// Defaults: 15 minutes and 256 MiB per partition, enforced every 10 s.
	Retention      time.Duration
	RetentionBytes int64
	// MemoryBudget bounds the record bytes the broker holds across all its partitions (default
	// DefaultMemoryBudget when the log is in memory, none with DataDir or TempLog; negative: none). Once a second, when the partitions together hold more,
	// the oldest records of the largest partitions are dropped until they hold three quarters of it,
	// each partition keeping an equal share at least; compacted topics (stream descriptions, stage
	// state) are counted but never trimmed. A consumer further behind than its partition's share loses
	// the records it had not read yet (it sees a sequence gap), as with any Kafka retention.
	MemoryBudget int64
	// Partitions for topics created automatically by clients (default 8).
	DefaultPartitions int
	// IdleTimeout, if set, closes Idle() once no client has been connected for that long.
	IdleTimeout time.Duration
	// Nodes is the number of brokers in the cluster (default 1); with more, Addr's port must be 0
	// and each node listens on its own free port (fault drills: RemoveNode).
	Nodes int
	// SASL, if Mechanism is set (SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN), makes every client
	// authenticate as User with Password.
	SASL SASL
	// TLSCertFile and TLSKeyFile, if set, make the broker speak TLS only, with this certificate.
	TLSCertFile, TLSKeyFile string
}

// SASL is the one user an authenticating broker accepts.
type SASL struct {
	Mechanism, User, Password string
}

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
	addrs   []string // every node's, by node id
	tmpDir  string   // the temporary log directory Close removes, if any
	conns   *connCounter
	idle    chan struct{}
	stop    chan struct{}
	once    sync.Once
	budget  *budget
}

// DefaultMemoryBudget is the record bytes an embedded broker holds across its partitions by default:
// 50 streams of 32 channels at 250 Hz (raw and clean topics) for about 40 s, one stream for over half
// an hour. The process holds more than the records: with 50 such streams pushed 24 times faster than
// real time the resident size peaked at 650 MB with this budget, 290 MB with a 300 MiB Go memory
// limit (see SuggestedMemoryLimit); without a budget it was 1.8 GB after 600 MiB of records.
const DefaultMemoryBudget = 128 << 20

// SuggestedMemoryLimit is a Go soft memory limit (runtime/debug.SetMemoryLimit) for a process that
// runs an in-memory broker with the given budget: the records, as much again for the segments'
// doubling growth and produce garbage, and room for the rest of the process. Without one the
// garbage collector lets the heap grow to twice what is live.
func SuggestedMemoryLimit(budget int64) int64 { return 2*budget + 128<<20 }

// segmentBytes is the size at which a partition's log starts a new segment.
const segmentBytes = 1 << 20

// connCounter counts the clients connected to the broker, for the idle timeout.
type connCounter struct {
	mu       sync.Mutex
	open     int
	lastSeen time.Time
}

func (c *connCounter) add(d int) {
	c.mu.Lock()
	c.open += d
	c.lastSeen = time.Now()
	c.mu.Unlock()
}

// idleFor is how long no client has been connected (0 while one is).
func (c *connCounter) idleFor() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open > 0 {
		return 0
	}
	return time.Since(c.lastSeen)
}

type countingListener struct {
	net.Listener
	c *connCounter
}

func (l countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return conn, err
	}
	l.c.add(1)
	return &countedConn{Conn: conn, c: l.c}, nil
}

type countedConn struct {
	net.Conn
	c    *connCounter
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.c.add(-1) })
	return c.Conn.Close()
}

// Start starts a broker. Close it when done.
func Start(cfg Config) (*Broker, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:9092"
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 15 * time.Minute
	}
	if cfg.RetentionBytes <= 0 {
		cfg.RetentionBytes = 256 << 20
	}
	if cfg.DefaultPartitions <= 0 {
		cfg.DefaultPartitions = 8
	}
	if cfg.MemoryBudget == 0 && cfg.DataDir == "" && !cfg.TempLog {
		cfg.MemoryBudget = DefaultMemoryBudget
	}
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker address %q: want host:port: %w", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("broker address %q: bad port %q", cfg.Addr, portStr)
	}
	conns := &connCounter{lastSeen: time.Now()}
	listenOn := func(host string) func(network, address string) (net.Listener, error) {
		return func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			l, err := net.Listen(network, net.JoinHostPort(host, p))
			if err != nil {
				return nil, err
			}
			return countingListener{Listener: l, c: conns}, nil
		}
	}
	nodes := max(cfg.Nodes, 1)
	ports := []int{port}
	if nodes > 1 {
		if port != 0 {
			return nil, fmt.Errorf("broker: %d nodes need port 0 (each takes a free port), not %d", nodes, port)
		}
		ports = make([]int, nodes)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(nodes),
		kfake.Ports(ports...),
		kfake.ListenFn(listenOn(host)),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.DefaultPartitions),
		// Consumer-group members of separate processes should see each other within a second or two.
		kfake.GroupMinSessionTimeout(time.Second),
		kfake.BrokerConfigs(map[string]string{
			"log.retention.ms":       strconv.FormatInt(cfg.Retention.Milliseconds(), 10),
			"log.retention.bytes":    strconv.FormatInt(cfg.RetentionBytes, 10),
			"log.cleaner.backoff.ms": "10000",
			// Small segments: the doubling growth of each segment's in-memory file copies less, and
			// retention drops old data in small steps (a segment is freed only once all of it is
			// dropped, so each partition holds up to a segment more than its share of the budget).
			"log.segment.bytes": strconv.Itoa(segmentBytes),
		}),
	}
	if cfg.SASL.Mechanism != "" {
		switch cfg.SASL.Mechanism {
		case "SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN":
		default:
			return nil, fmt.Errorf("broker: SASL mechanism %q: use SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN", cfg.SASL.Mechanism)
		}
		if cfg.SASL.User == "" || cfg.SASL.Password == "" {
			return nil, errors.New("broker: SASL needs a user and a password")
		}
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(cfg.SASL.Mechanism, cfg.SASL.User, cfg.SASL.Password))
	}
	if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("broker: TLS certificate: %w", err)
		}
		opts = append(opts, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	}
	var tmpDir string
	switch {
	case cfg.DataDir != "":
		opts = append(opts, kfake.DataDir(cfg.DataDir))
		if cfg.SyncWrites {
			opts = append(opts, kfake.SyncWrites())
		}
	case cfg.TempLog:
		if tmpDir, err = os.MkdirTemp("", "neurostream-broker-"); err != nil {
			return nil, fmt.Errorf("start embedded broker: temporary log directory (without TempLog the log stays in memory): %w", err)
		}
		opts = append(opts, kfake.DataDir(tmpDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil && cfg.FallbackToFreePort && port != 0 && errors.Is(err, syscall.EADDRINUSE) {
		opts[1] = kfake.Ports(0)
		c, err = kfake.NewCluster(opts...)
	}
	if err != nil {
		removeTemp(tmpDir)
		return nil, fmt.Errorf("start embedded broker on %s: %w", cfg.Addr, err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) == 0 {
		c.Close()
		removeTemp(tmpDir)
		return nil, errors.New("start embedded broker: it reports no listen address")
	}
	b := &Broker{cluster: c, addr: addrs[0], addrs: addrs, tmpDir: tmpDir, conns: conns, idle: make(chan struct{}), stop: make(chan struct{}),
		budget: &budget{limit: cfg.MemoryBudget}}
	if cfg.IdleTimeout > 0 {
		go b.watchIdle(cfg.IdleTimeout)
	}
	if cfg.MemoryBudget > 0 {
		b.budget.watchTopics(c)
		go b.enforceBudget()
	}
	return b, nil
}

func (b *Broker) watchIdle(timeout time.Duration) {
	t := time.NewTicker(min(timeout/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			if b.conns.idleFor() >= timeout {
				close(b.idle)
				return
			}
		}
	}
}

// Idle is closed once no client has been connected for Config.IdleTimeout (never without one).
func (b *Broker) Idle() <-chan struct{} { return b.idle }

func removeTemp(dir string) {
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
}

// Addr is the host:port clients connect to (the first node's).
func (b *Broker) Addr() string { return b.addr }

// Addrs are every node's host:port, by node id.
func (b *Broker) Addrs() []string { return b.addrs }

// LeaderOf returns the node id leading a partition (-1 if there is no such partition).
func (b *Broker) LeaderOf(topic string, partition int) int {
	return int(b.cluster.LeaderFor(topic, int32(partition)))
}

// RemoveNode stops a node: it stops listening and its partitions get new leaders among the others.
func (b *Broker) RemoveNode(node int) error { return b.cluster.RemoveNode(int32(node)) }

// Close stops the broker; with a DataDir, data is flushed so a restart resumes from it, and a
// temporary log directory is removed.
func (b *Broker) Close() {
	b.once.Do(func() { close(b.stop) })
	b.cluster.Close()
	removeTemp(b.tmpDir)
}
