package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// EnvLibraryPath names the environment variable that points at the ONNX Runtime shared library.
const EnvLibraryPath = "NEUROSTREAM_ONNXRUNTIME"

// InstallHint says how to get the library; every "not found" error ends with it.
const InstallHint = "install it with tools/install-onnxruntime.sh (puts ONNX Runtime 1.24.3 in .cache/onnxruntime/) " +
	"or set " + EnvLibraryPath + "=/path/to/libonnxruntime.so"

// ErrLibraryNotFound is returned (wrapped) when no ONNX Runtime shared library can be found.
var ErrLibraryNotFound = errors.New("ONNX Runtime shared library not found")

// Config chooses the library and the threading of every session a Runtime opens.
type Config struct {
	// LibraryPath is the shared library to load; empty means search (see the package comment).
	LibraryPath string
	// IntraOpThreads and InterOpThreads bound ONNX Runtime's thread pools per session; 0 means 1,
	// because decoders run one window at a time beside the rest of the pipeline and a real-time
	// stream is better served by one predictable thread than by a pool that competes with it.
	IntraOpThreads int
	InterOpThreads int
}

// ortEnv counts the Runtimes that share ONNX Runtime's environment. The environment is a process-wide
// singleton inside onnxruntime_go (it can be created once and must be destroyed once), so the count has
// to be process-wide too; it is not visible in the API, where each caller owns a Runtime and closes it.
var ortEnv struct {
	sync.Mutex
	refs int
	path string
}

// Runtime is an initialised ONNX Runtime; create it with NewRuntime, open models with it, Close it last.
type Runtime struct {
	libraryPath  string
	intra, inter int
	mu           sync.Mutex
	closed       bool
}

// NewRuntime finds and loads the ONNX Runtime shared library. Several Runtimes may be open at once as
// long as they use the same library file.
func NewRuntime(cfg Config) (*Runtime, error) {
	if cfg.IntraOpThreads < 0 || cfg.InterOpThreads < 0 {
		return nil, fmt.Errorf("onnx runtime: negative thread count (intra %d, inter %d); use 0 for the default of 1",
			cfg.IntraOpThreads, cfg.InterOpThreads)
	}
	path, err := FindLibrary(cfg.LibraryPath)
	if err != nil {
		return nil, err
	}
	ortEnv.Lock()
	defer ortEnv.Unlock()
	if ortEnv.refs > 0 {
		if ortEnv.path != path {
			return nil, fmt.Errorf("onnx runtime: %s is already loaded in this process; cannot also load %s", ortEnv.path, path)
		}
	} else {
		ort.SetSharedLibraryPath(path)
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			return nil, fmt.Errorf("onnx runtime: initialising %s (is it ONNX Runtime 1.24.x for this platform? %s): %w",
				path, InstallHint, err)
		}
		ortEnv.path = path
	}
	ortEnv.refs++
	r := &Runtime{libraryPath: path, intra: max(cfg.IntraOpThreads, 1), inter: max(cfg.InterOpThreads, 1)}
	return r, nil
}

// LibraryPath returns the shared library this Runtime loaded.
func (r *Runtime) LibraryPath() string { return r.libraryPath }

// Close releases the Runtime; the environment is destroyed with the last open Runtime. Close the
// models opened with it first.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	ortEnv.Lock()
	defer ortEnv.Unlock()
	ortEnv.refs--
	if ortEnv.refs == 0 {
		if err := ort.DestroyEnvironment(); err != nil {
			return fmt.Errorf("onnx runtime: destroying the environment: %w", err)
		}
	}
	return nil
}

// sessionOptions configures a session with intra intra-op threads (0: the Runtime's default).
func (r *Runtime) sessionOptions(intra int) (*ort.SessionOptions, error) {
	if intra <= 0 {
		intra = r.intra
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, errors.New("onnx runtime: already closed")
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnx runtime: session options: %w", err)
	}
	if err := opts.SetIntraOpNumThreads(intra); err != nil {
		opts.Destroy()
		return nil, fmt.Errorf("onnx runtime: setting %d intra-op threads: %w", intra, err)
	}
	if err := opts.SetInterOpNumThreads(r.inter); err != nil {
		opts.Destroy()
		return nil, fmt.Errorf("onnx runtime: setting %d inter-op threads: %w", r.inter, err)
	}
	return opts, nil
}

// FindLibrary returns the ONNX Runtime shared library to load: explicit if not empty, else the first
// that exists of $NEUROSTREAM_ONNXRUNTIME, $ONNXRUNTIME_LIB, .cache/onnxruntime/libonnxruntime.so in
// the working directory or a parent, and the standard library directories.
func FindLibrary(explicit string) (string, error) {
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("%w: configured path %s: %v; %s", ErrLibraryNotFound, explicit, err, InstallHint)
		}
		return explicit, nil
	}
	var tried []string
	for _, env := range []string{EnvLibraryPath, "ONNXRUNTIME_LIB"} {
		if p := os.Getenv(env); p != "" {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%w: $%s=%s: %v; %s", ErrLibraryNotFound, env, p, err, InstallHint)
			}
			return p, nil
		}
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			p := filepath.Join(dir, ".cache", "onnxruntime", "libonnxruntime.so")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			tried = append(tried, p)
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	for _, dir := range []string{"/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu"} {
		for _, name := range []string{"libonnxruntime.so", "libonnxruntime.so.1"} {
			p := filepath.Join(dir, name)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			tried = append(tried, p)
		}
	}
	return "", fmt.Errorf("%w (looked at $%s, $ONNXRUNTIME_LIB, %v); %s", ErrLibraryNotFound, EnvLibraryPath, tried, InstallHint)
}
