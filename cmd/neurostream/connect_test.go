package main

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/neurostream/neurostream/streams"
)

// A listener on the broker address that is not Kafka (one that never answers, one that answers
// HTTP) does not make commands hang on it: they start a broker on another port and use it.
func TestNonKafkaListenerOnBrokerAddress(t *testing.T) {
	for _, c := range []struct {
		name  string
		serve func(net.Conn)
	}{
		{"silent", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }},
		{"http", func(c net.Conn) {
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
			_, _ = io.Copy(io.Discard, c)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					conn, err := l.Accept()
					if err != nil {
						return
					}
					go func() { defer conn.Close(); c.serve(conn) }()
				}
			}()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			kf := kafkaFlags{brokerAddr: l.Addr().String(), inProcess: true, namespace: "probe"}
			kc, stop, err := kf.connect(ctx, streams.Config{}, newLogger(io.Discard, false))
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			if kc.Brokers[0] == l.Addr().String() {
				t.Fatalf("connected to the non-Kafka listener %s", l.Addr())
			}
			if err := streams.EnsureTopics(ctx, kc, kc.Topics(), 1, 1); err != nil {
				t.Fatalf("the broker started instead does not work: %v", err)
			}
		})
	}
}
