package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/neurostream/neurostream/streams"
	"github.com/neurostream/neurostream/streams/broker"
)

// kafkaFlags are the connection flags every Kafka-facing command shares.
type kafkaFlags struct {
	brokers   string
	namespace string
	// bulk starts an embedded broker with its log in a temporary directory (broker.Config.TempLog),
	// for commands that publish far faster than real time.
	bulk bool
	// brokerAddr is where an embedded broker listens, and where a running one is looked for first.
	brokerAddr string
	// inProcess starts the broker inside this process when none runs (the demo's one-command start)
	// instead of the detached local broker that outlives the command.
	inProcess bool
	// started is the broker connect started inside this process, if it did.
	started *broker.Broker
}

func (k *kafkaFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&k.brokers, "brokers", os.Getenv("NEUROSTREAM_BROKERS"),
		"Kafka bootstrap servers host:port,... ($NEUROSTREAM_BROKERS). Empty: use a neurostream broker already on\n"+
			"127.0.0.1:9092, else start the local broker in the background (it outlives the command, keeps its data\n"+
			"under $XDG_STATE_HOME/neurostream/broker; neurostream broker status|stop)")
	fs.StringVar(&k.namespace, "namespace", streams.DefaultNamespace, "topic namespace (topics are <namespace>.raw, .clean, .predictions, ...)")
	fs.StringVar(&k.brokerAddr, "broker-addr", defaultBrokerAddr, "without --brokers: use a neurostream broker already on this address, else start\n"+
		"an embedded one there (a free port if it is taken; 127.0.0.1:0 always picks a free port)")
}

// defaultBrokerAddr is where the embedded broker listens, and where commands look for one first.
const defaultBrokerAddr = "127.0.0.1:9092"

// connect returns the Kafka config to use. With no broker configured it uses one running on the
// default address, else the local broker (started detached if needed; see localbroker.go), or, for
// the demo and for --broker-addr with port 0, a broker inside this process, which the returned stop
// function closes.
func (k *kafkaFlags) connect(ctx context.Context, base streams.Config, log *slog.Logger) (streams.Config, func(), error) {
	cfg := base
	cfg.Outages = streams.NewOutages(log)
	if k.brokers != "" {
		cfg.Brokers = strings.Split(k.brokers, ",")
	}
	if k.namespace != "" && k.namespace != streams.DefaultNamespace || cfg.Namespace == "" {
		cfg.Namespace = k.namespace
	}
	if len(cfg.Brokers) > 0 {
		return cfg, func() {}, cfg.Validate()
	}
	addr := k.brokerAddr
	if addr == "" {
		addr = defaultBrokerAddr
	}
	if _, port, err := net.SplitHostPort(addr); err != nil {
		return cfg, nil, fmt.Errorf("--broker-addr %q: %w (want host:port, e.g. 127.0.0.1:9092)", addr, err)
	} else if port != "0" {
		if c, err := (&net.Dialer{Timeout: 200 * time.Millisecond}).DialContext(ctx, "tcp", addr); err == nil {
			c.Close()
			if err := speaksKafka(ctx, addr); err != nil {
				// Something else owns the port (another service, a hung process): waiting on it would
				// hang every command, so say so and start a broker on another port.
				// (the broker started below falls back to a free port, printed)
				fmt.Fprintf(os.Stderr, "neurostream: %s is taken by something that does not speak Kafka (%v); starting a broker on another port (free %s, or pass --broker-addr or --brokers)\n",
					addr, err, addr)
			} else {
				log.Info("using the broker already running", "addr", addr)
				cfg.Brokers = []string{addr}
				return cfg, func() {}, nil
			}
		}
	}
	if !k.inProcess && !strings.HasSuffix(addr, ":0") && !runningUnderGoTest() {
		local, err := ensureLocalBroker(ctx, addr, log)
		if err != nil {
			return cfg, nil, err
		}
		cfg.Brokers = []string{local}
		return cfg, func() {}, nil
	}
	b, err := broker.Start(broker.Config{Addr: addr, FallbackToFreePort: true, TempLog: k.bulk})
	if err != nil {
		return cfg, nil, err
	}
	log.Info("started embedded Kafka broker (kfake)", "addr", b.Addr(), "hint", "other processes: --brokers "+b.Addr())
	k.started = b
	if !k.bulk {
		limitMemory(broker.DefaultMemoryBudget)
	}
	cfg.Brokers = []string{b.Addr()}
	return cfg, b.Close, nil
}

// speaksKafka asks addr for its API versions, the first request every Kafka client sends, and
// fails unless a Kafka broker answers within two seconds.
func speaksKafka(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := (&kafka.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	if _, err := conn.ApiVersions(); err != nil {
		return fmt.Errorf("no Kafka answer: %w", err)
	}
	return nil
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func runVersion(_ context.Context, args []string, out io.Writer) error {
	fs := newFlagSet("version", "", "Prints the neurostream version and the wire-schema version.")
	fs.SetOutput(out)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(out, "neurostream %s (wire schema v%d)\n", version, streams.SchemaVersion)
	return nil
}

// runLocalBroker runs `broker start|status|stop`: the local broker in the background that commands
// otherwise start by themselves.
func runLocalBroker(ctx context.Context, sub string, args []string, out io.Writer) error {
	about := map[string]string{
		"start":  "Starts the local broker in the background (if none runs) and prints where it listens. It keeps its\ndata under $XDG_STATE_HOME/neurostream/broker and stops after 30 minutes without clients.",
		"status": "Prints whether the local broker runs, where, and where its data and log are.",
		"stop":   "Stops the local broker; its data stays for the next one.",
	}[sub]
	fs := newFlagSet("broker "+sub, "[flags]", about)
	fs.SetOutput(out)
	addr := defaultBrokerAddr
	if sub == "start" {
		fs.StringVar(&addr, "addr", defaultBrokerAddr, "listen address (a free port on the same host if it is taken)")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("broker %s: unexpected argument %q (`neurostream broker %s --help`)", sub, fs.Arg(0), sub)
	}
	switch sub {
	case "status":
		return brokerStatus(ctx, out)
	case "stop":
		return brokerStop(out)
	}
	_, stateFile, err := localBrokerPaths()
	if err != nil {
		return err
	}
	bound, err := ensureLocalBroker(ctx, addr, newLogger(io.Discard, false))
	if err != nil {
		return err
	}
	s, _ := readLocalBroker(stateFile)
	fmt.Fprintf(out, "local broker running on %s (pid %d, data %s)\n", bound, s.PID, s.DataDir)
	return nil
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func runBroker(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && (args[0] == "start" || args[0] == "status" || args[0] == "stop") {
		return runLocalBroker(ctx, args[0], args[1:], out)
	}
	fs := newFlagSet("broker", "[start|status|stop] [flags]",
		"Runs a standalone Kafka-protocol broker (franz-go's kfake) for multi-process setups on one machine, in\n"+
			"this terminal. Other neurostream commands find it on 127.0.0.1:9092 by themselves; kcat and any Kafka\n"+
			"client can use it too. Without it, commands start the local broker in the background by themselves:\n"+
			"  neurostream broker start    start the local broker in the background (data under $XDG_STATE_HOME/neurostream)\n"+
			"  neurostream broker status   where it listens, its pid, data directory and log\n"+
			"  neurostream broker stop     stop it (its data stays for the next one)")
	fs.SetOutput(out)
	addr := fs.String("addr", defaultBrokerAddr, "listen address host:port")
	dataDir := fs.String("data-dir", "", "keep data on disk in DIR (survives restarts); empty keeps it in memory")
	tempLog := fs.Bool("temp-log", false, "keep data in a temporary directory removed at exit instead of in memory:\n"+
		"faster for bulk publishing (replay --fast), ~0.1 ms more per message hop")
	sync := fs.Bool("sync-writes", false, "fsync every produce (with --data-dir)")
	retention := fs.Duration("retention", 15*time.Minute, "how long partitions keep messages")
	budgetMiB := fs.Int64("memory-budget-mib", broker.DefaultMemoryBudget>>20, "with the log in memory: MiB of records kept across all partitions, the oldest\n"+
		"dropped beyond it (0: no bound; with --data-dir or --temp-log there is none unless set)")
	idle := fs.Duration("idle-timeout", 0, "stop after this long without any client connected (0: never)")
	saslMech := fs.String("sasl-mechanism", "", "require SASL: SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN (with --sasl-user and the password in\n"+
		"the environment variable --sasl-password-env names); clients set kafka.sasl in their config")
	saslUser := fs.String("sasl-user", "", "the user clients authenticate as (with --sasl-mechanism)")
	saslPassEnv := fs.String("sasl-password-env", "NEUROSTREAM_BROKER_PASSWORD", "environment variable holding the SASL password")
	tlsCert := fs.String("tls-cert", "", "speak TLS only, with this PEM certificate (and --tls-key); clients set kafka.tls")
	tlsKey := fs.String("tls-key", "", "PEM private key of --tls-cert")
	stateFile := fs.String("state-file", "", "write the pid and address here once listening, for other commands to find\n"+
		"(the local broker's; with it, a taken --addr falls back to a free port)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("broker: unexpected arguments %q (subcommands: start, status, stop)", fs.Args())
	}
	bc := broker.Config{Addr: *addr, DataDir: *dataDir, TempLog: *tempLog, SyncWrites: *sync, Retention: *retention,
		MemoryBudget: memoryBudget(fs, *budgetMiB), IdleTimeout: *idle, FallbackToFreePort: *stateFile != "", TLSCertFile: *tlsCert, TLSKeyFile: *tlsKey}
	if *saslMech != "" {
		bc.SASL = broker.SASL{Mechanism: strings.ToUpper(*saslMech), User: *saslUser, Password: os.Getenv(*saslPassEnv)}
		if bc.SASL.Password == "" {
			return fmt.Errorf("broker: --sasl-mechanism %s needs a password in $%s", *saslMech, *saslPassEnv)
		}
	}
	b, err := broker.Start(bc)
	if err != nil {
		return fmt.Errorf("%w (is another broker already on %s? pick another with --addr)", err, *addr)
	}
	if *dataDir == "" && !*tempLog {
		switch {
		case bc.MemoryBudget == 0:
			limitMemory(broker.DefaultMemoryBudget)
		case bc.MemoryBudget > 0:
			limitMemory(bc.MemoryBudget)
		}
	}
	defer b.Close()
	if *stateFile != "" {
		remove, err := writeLocalBrokerState(*stateFile, localBrokerState{PID: os.Getpid(), Addr: b.Addr(), DataDir: *dataDir,
			Log: filepath.Join(filepath.Dir(*stateFile), "broker.log"), StartedAt: time.Now()})
		if err != nil {
			return err
		}
		defer remove()
	}
	where := "in memory"
	switch {
	case *dataDir != "":
		where = "in " + *dataDir
	case *tempLog:
		where = "in a temporary directory removed at exit"
	}
	fmt.Fprintf(out, "neurostream broker listening on %s (data %s, retention %v); Ctrl-C to stop\n", b.Addr(), where, *retention)
	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "broker stopping")
	case <-b.Idle():
		fmt.Fprintf(out, "broker stopping: no client for %v\n", *idle)
	}
	return nil
}

// memoryBudget turns --memory-budget-mib into broker.Config.MemoryBudget: 0 means no bound, and the
// default applies only where the flag was not given.
func memoryBudget(fs *flag.FlagSet, mib int64) int64 {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "memory-budget-mib" })
	switch {
	case !given:
		return 0 // the broker's own default: a budget in memory, none on disk
	case mib <= 0:
		return -1
	}
	return mib << 20
}

// limitMemory sets the Go soft memory limit a process holding an in-memory broker with this budget
// should keep to (broker.SuggestedMemoryLimit), unless $GOMEMLIMIT already set one, and Go's default
// GOGC=100 instead of gcPercent, unless $GOGC is set: the broker's log lives in the Go heap, which
// gcPercent lets grow to five times the live data before a collection. With 2 minutes' retention of
// a 64-channel stream (~30 MB live) the broker's resident size climbed to ~190 MB at 400 (users took
// it for a leak), to ~90 MB at 100, for the same CPU (2.7% of a core either way).
func limitMemory(budget int64) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(broker.SuggestedMemoryLimit(budget))
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(100)
	}
}
