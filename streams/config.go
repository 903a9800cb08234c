package streams

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// Config says how to reach Kafka. It maps onto the `kafka:` section of the YAML configs.
type Config struct {
	Brokers   []string   `yaml:"brokers"`
	Namespace string     `yaml:"namespace"`
	ClientID  string     `yaml:"client_id"`
	TLS       TLSConfig  `yaml:"tls"`
	SASL      SASLConfig `yaml:"sasl"`
	// Outages, shared by every client made from this config, retries transient failures with
	// backoff and reports outages (nil: retry, logging to slog's default logger).
	Outages *Outages `yaml:"-"`
	// UnbufferedConns leaves kafka-go's connections with their own 4 KiB buffers instead of
	// gathering each request into one write (see bufferedConn): for measuring the difference.
	UnbufferedConns bool `yaml:"-"`
}

// TLSConfig enables TLS to the brokers when Enabled.
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASLConfig enables SASL authentication when Mechanism is set: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
// The password may come from the environment variable named by PasswordEnv instead of the file.
type SASLConfig struct {
	Mechanism   string `yaml:"mechanism"`
	Username    string `yaml:"username"`
	Password    string `yaml:"password"`
	PasswordEnv string `yaml:"password_env"`
}

// Topics returns the topic names under the configured namespace.
func (c Config) Topics() Topics { return NewTopics(c.Namespace) }

func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS.Enabled {
		return nil, nil
	}
	tc := &tls.Config{ServerName: c.TLS.ServerName, InsecureSkipVerify: c.TLS.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka tls: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka tls: %s holds no PEM certificate", c.TLS.CAFile)
		}
		tc.RootCAs = pool
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return nil, errors.New("kafka tls: set both cert_file and key_file for client authentication, or neither")
	}
	if c.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka tls: load client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (c Config) saslMechanism() (sasl.Mechanism, error) {
	pw := c.SASL.Password
	if c.SASL.PasswordEnv != "" {
		pw = os.Getenv(c.SASL.PasswordEnv)
	}
	switch c.SASL.Mechanism {
	case "":
		return nil, nil
	case "PLAIN", "plain":
		return plain.Mechanism{Username: c.SASL.Username, Password: pw}, nil
	case "SCRAM-SHA-256", "scram-sha-256":
		return scram.Mechanism(scram.SHA256, c.SASL.Username, pw)
	case "SCRAM-SHA-512", "scram-sha-512":
		return scram.Mechanism(scram.SHA512, c.SASL.Username, pw)
	}
	return nil, fmt.Errorf("kafka sasl: unknown mechanism %q (use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", c.SASL.Mechanism)
}

// Dialer returns a kafka-go dialer with the TLS and SASL settings, for readers.
func (c Config) Dialer() (*kafka.Dialer, error) {
	tc, mech, err := c.security()
	if err != nil {
		return nil, err
	}
	d := &kafka.Dialer{ClientID: c.clientID(), Timeout: 10 * time.Second, DualStack: true, TLS: tc, SASLMechanism: mech}
	if tc == nil && mech == nil && !c.UnbufferedConns {
		d.DialFunc = dialBuffered(d.Timeout)
	}
	return d, nil
}

// Transport returns a kafka-go transport with the TLS and SASL settings, for writers.
func (c Config) Transport() (*kafka.Transport, error) {
	tc, mech, err := c.security()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{ClientID: c.clientID(), TLS: tc, SASL: mech, DialTimeout: 10 * time.Second}, nil
}

// security returns the TLS and SASL settings every connection uses (nil when not configured).
func (c Config) security() (*tls.Config, sasl.Mechanism, error) {
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, nil, err
	}
	mech, err := c.saslMechanism()
	if err != nil {
		return nil, nil, err
	}
	return tc, mech, nil
}

func (c Config) clientID() string {
	if c.ClientID != "" {
		return c.ClientID
	}
	return "neurostream"
}

// Validate reports a config that cannot work.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka: no brokers configured (use --brokers host:port or leave it empty for the embedded broker)")
	}
	if _, err := c.tlsConfig(); err != nil {
		return err
	}
	_, err := c.saslMechanism()
	return err
}
