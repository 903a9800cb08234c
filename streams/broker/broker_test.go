package broker

import (
	"context"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

func TestStartProduceConsume(t *testing.T) {
	b, err := Start(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, _, err := net.SplitHostPort(b.Addr()); err != nil {
		t.Fatalf("Addr() = %q: %v", b.Addr(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(b.Addr()), Topic: "t", BatchSize: 1, BatchTimeout: time.Millisecond, AllowAutoTopicCreation: true}
	defer w.Close()
	for i := 0; i < 20; i++ { // the first writes may race topic auto-creation
		if err = w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("hello")}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	conn, err := kafka.DialLeader(ctx, "tcp", b.Addr(), "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	parts, err := conn.ReadPartitions("t")
	if err != nil || len(parts) != 8 {
		t.Fatalf("auto-created topic has %d partitions (err %v), want the default 8", len(parts), err)
	}
}

func TestPortTakenFallsBack(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().String()
	if _, err := Start(Config{Addr: taken}); err == nil {
		t.Fatalf("Start on taken %s succeeded without fallback", taken)
	}
	b, err := Start(Config{Addr: taken, FallbackToFreePort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Addr() == taken {
		t.Fatalf("fallback broker reports the taken address %s", taken)
	}
}

func TestPersistentRestart(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A restarted broker must come back on the same address: clients and the persisted metadata know it.
	b, err := Start(Config{Addr: "127.0.0.1:0", DataDir: dir, SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr()
	if err := kafka.NewConn(mustDial(t, ctx, b.Addr()), "", 0).CreateTopics(kafka.TopicConfig{Topic: "p", NumPartitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	// RequireAll: kafka-go's Writer defaults to no acknowledgement, so WriteMessages returned as soon
	// as the request was sent and Close could stop the broker before it had stored the message (the
	// test failed 6 times in 8 that way: the partition came back empty).
	w := &kafka.Writer{Addr: kafka.TCP(b.Addr()), Topic: "p", BatchSize: 1, BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte("survives")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	b.Close()

	b2, err := Start(Config{Addr: addr, DataDir: dir, SyncWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b2.Addr()}, Topic: "p", Partition: 0, MaxWait: time.Second})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Value) != "survives" {
		t.Fatalf("after restart read %q, want %q", m.Value, "survives")
	}
}

func mustDial(t *testing.T, ctx context.Context, addr string) net.Conn {
	t.Helper()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestTemporaryLogDir: with TempLog the log lives in a temporary directory that holds the produced
// segments and is gone after Close; by default there is none.
func TestTemporaryLogDir(t *testing.T) {
	b, err := Start(Config{Addr: "127.0.0.1:0", TempLog: true})
	if err != nil {
		t.Fatal(err)
	}
	if b.tmpDir == "" {
		t.Fatal("no temporary log directory")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w := &kafka.Writer{Addr: kafka.TCP(b.Addr()), Topic: "t", BatchSize: 1, BatchTimeout: time.Millisecond, AllowAutoTopicCreation: true, RequiredAcks: kafka.RequireAll}
	for i := 0; i < 20; i++ { // the first writes may race topic auto-creation
		if err = w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("hello")}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	var segBytes int64
	if err := filepath.WalkDir(b.tmpDir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				segBytes += info.Size()
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if segBytes == 0 {
		t.Fatalf("nothing written under %s", b.tmpDir)
	}
	b.Close()
	if _, err := os.Stat(b.tmpDir); !os.IsNotExist(err) {
		t.Fatalf("%s still there after Close (%v)", b.tmpDir, err)
	}

	m, err := Start(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.tmpDir != "" {
		t.Fatalf("default (in-memory) broker made %s", m.tmpDir)
	}
}

// With an idle timeout, Idle stays open while a client is connected and closes once none has been
// for that long.
func TestIdleTimeout(t *testing.T) {
	b, err := Start(Config{Addr: "127.0.0.1:0", IdleTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	// A connected client keeps the broker busy however long it waits.
	for range 5 {
		time.Sleep(200 * time.Millisecond)
		select {
		case <-b.Idle():
			t.Fatal("idle while a client is connected")
		default:
		}
	}
	c.Close()
	select {
	case <-b.Idle():
	case <-time.After(60 * time.Second):
		t.Fatal("not idle a minute after the last client left")
	}
}
