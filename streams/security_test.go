package streams_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, returning their paths.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "neurostream test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// The embedded broker can require TLS and SASL/SCRAM: a client with the CA and the password
// publishes and reads; one with a wrong password is refused at once with an authentication error
// (not retried as an outage); one without TLS does not get through.
func TestBrokerRequiresSCRAMAndTLS(t *testing.T) {
	cert, key := selfSigned(t)
	b, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", TLSCertFile: cert, TLSKeyFile: key,
		SASL: broker.SASL{Mechanism: "SCRAM-SHA-256", User: "lab", Password: "right horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	good := streams.Config{Brokers: []string{b.Addr()}, Namespace: "sec",
		TLS:  streams.TLSConfig{Enabled: true, CAFile: cert},
		SASL: streams.SASLConfig{Mechanism: "SCRAM-SHA-256", Username: "lab", Password: "right horse battery"}}
	topics := good.Topics()
	if err := streams.EnsureTopics(ctx, good, topics, 1, 1); err != nil {
		t.Fatal(err)
	}
	p, err := streams.NewProducer(good, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.PublishFrames(ctx, topics.Raw, &streams.Frame{StreamID: "s", NumSamples: 1, NumChannels: 1, Samples: []float32{1}}); err != nil {
		t.Fatal(err)
	}
	c, err := streams.NewConsumer(good, streams.ConsumerConfig{Topic: topics.Raw, Partition: 0, FromStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var f streams.Frame
	if _, _, err := c.ReadFrame(ctx, &f); err != nil || f.StreamID != "s" {
		t.Fatalf("authenticated read: %q, %v", f.StreamID, err)
	}

	wrong := good
	wrong.SASL.Password = "wrong"
	err = streams.EnsureTopics(ctx, wrong, topics, 1, 1)
	if err == nil || !errors.Is(err, kafka.SASLAuthenticationFailed) || ctx.Err() != nil {
		t.Fatalf("wrong password: %v, want an immediate SASL authentication failure", err)
	}
	t.Logf("wrong password: %v", err)
	wp, err := streams.NewProducer(wrong, streams.LowLatency)
	if err != nil {
		t.Fatal(err)
	}
	defer wp.Close()
	if err := wp.PublishFrames(ctx, topics.Raw, &f); !errors.Is(err, kafka.SASLAuthenticationFailed) {
		t.Fatalf("publish with a wrong password: %v, want a SASL authentication failure", err)
	}

	plain := good
	plain.TLS = streams.TLSConfig{}
	short, cancelShort := context.WithTimeout(ctx, 3*time.Second)
	defer cancelShort()
	if err := streams.EnsureTopics(short, plain, topics, 1, 1); err == nil {
		t.Fatal("a client without TLS got through")
	}
}

// By default the embedded broker listens on loopback only.
func TestBrokerBindsLoopbackByDefault(t *testing.T) {
	b, err := broker.Start(broker.Config{FallbackToFreePort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if host, _, _ := net.SplitHostPort(b.Addr()); host != "127.0.0.1" {
		t.Fatalf("default broker listens on %s", b.Addr())
	}
}
