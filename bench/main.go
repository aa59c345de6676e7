// Command bench measures the functions as they are deployed: each one is
// built into its own binary through the Functions Framework (a generated
// main, as Cloud Functions' Go buildpack makes), run against the Firestore
// and Auth emulators and a fake Threads with a configurable latency, and
// measured from outside: cold start, resident memory, CPU time per request
// (from /proc), throughput and latency at a given concurrency; then the
// connect flow and each kind of publish are counted (Threads calls,
// sequential round trips, Firestore RPCs through a counting proxy).
//
// Run it through ./scripts/bench, which starts the emulators on their own
// ports and passes its arguments on:
//
//	./scripts/bench [-rounds 5] [-requests 2000] [-concurrency 80] [-latency 50ms] [-out bench/out/latest.json] [-profile bench/out/profiles]
//
// See docs/performance.md for the method and the latest figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"threadsfunctions.dev/shared/config"
)

// Config is a run's parameters.
type Config struct {
	Rounds      int
	Requests    int
	Concurrency int
	Latency     time.Duration
	Flows       int
	PublishRuns int
	// Out, if set, is where the JSON report is written.
	Out string
	// Functions are the functions measured, in this order; empty: all
	// three, in table order.
	Functions []string
	// ProfileDir, if set, is where the profiles of ProfileFunctions go
	// (by default the measured functions).
	ProfileDir       string
	ProfileFunctions []string
	// WorkDir holds the generated mains and binaries; empty: a temporary
	// directory, removed afterwards.
	WorkDir string
	// Repo is the repository's root (where go.work is).
	Repo      string
	Emulators emulators
	// Log receives progress; Table the summary table.
	Log, Table io.Writer
	// Print, if set, is a JSON report to print as a table instead of
	// measuring.
	Print string
	// Env is added to every function's environment (KEY=VALUE), to try
	// runtime settings such as GOGC; the report records it.
	Env envList
}

// warmup is how many requests come before each load (and through the
// emulators' warm-up instance): max(requests/10, concurrency), at most the
// load itself.
func (c Config) warmup() int {
	return min(max(c.Requests/10, c.Concurrency), c.Requests)
}

// runtimeEnvList is config.DeployedRuntimeEnv as sorted KEY=VALUE strings.
func runtimeEnvList() []string {
	env := config.DeployedRuntimeEnv()
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if cfg.Print != "" {
		rep, err := readReport(cfg.Print)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		rep.printTable(cfg.Table)
		return
	}
	if _, err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (Config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfg := Config{Log: os.Stderr, Table: os.Stdout}
	fs.IntVar(&cfg.Rounds, "rounds", 5, "fresh instances per function (cold start, memory, load)")
	fs.IntVar(&cfg.Requests, "requests", 2000, "requests per load (after a warm-up of max(requests/10, concurrency))")
	fs.IntVar(&cfg.Concurrency, "concurrency", 80, "concurrent clients during the load")
	fs.DurationVar(&cfg.Latency, "latency", 50*time.Millisecond, "latency of every fake Threads answer")
	fs.IntVar(&cfg.Flows, "flows", 10, "connect flows counted (start → callback)")
	fs.IntVar(&cfg.PublishRuns, "publish-runs", 3, "publishes counted per kind (text, image, carousel)")
	fs.StringVar(&cfg.Out, "out", "", "write the JSON report here")
	fs.StringVar(&cfg.ProfileDir, "profile", "", "profile each function under load (pprof variant binaries) and write the profiles here")
	fns := fs.String("functions", "", "functions to measure, in this order (default: all three; e.g. thPublish alone, to compare two builds sooner)")
	profileFns := fs.String("profile-functions", "", "functions to profile with -profile (default: the measured ones)")
	fs.StringVar(&cfg.WorkDir, "workdir", "", "where to build the binaries (default: a temporary directory)")
	fs.StringVar(&cfg.Repo, "repo", "", "repository root (default: found from the working directory)")
	fs.Var(&cfg.Env, "env", "KEY=VALUE added to each function's environment (repeatable), e.g. GOGC=200")
	fs.StringVar(&cfg.Print, "print", "", "print the table of a JSON report written by -out, and measure nothing")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	cfg.Functions = nameList(*fns)
	if cfg.ProfileDir != "" {
		cfg.ProfileFunctions = nameList(*profileFns)
		if len(cfg.ProfileFunctions) == 0 {
			cfg.ProfileFunctions = cfg.measured()
		}
	}
	cfg.Emulators = emulators{
		Project:       os.Getenv("GOOGLE_CLOUD_PROJECT"),
		FirestoreHost: os.Getenv("FIRESTORE_EMULATOR_HOST"),
		AuthHost:      os.Getenv("FIREBASE_AUTH_EMULATOR_HOST"),
	}
	return cfg, nil
}

// nameList splits a comma-separated list of function names.
func nameList(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// measured is the functions a run measures, in order.
func (c *Config) measured() []string {
	if len(c.Functions) > 0 {
		return c.Functions
	}
	var out []string
	for _, f := range measuredFunctions() {
		out = append(out, f.Name)
	}
	return out
}

func (c *Config) validate() error {
	var errs []error
	if c.Rounds < 1 || c.Requests < 1 || c.Concurrency < 1 || c.Flows < 1 || c.PublishRuns < 1 {
		errs = append(errs, errors.New("-rounds, -requests, -concurrency, -flows and -publish-runs must be at least 1"))
	}
	if c.Latency < 0 {
		errs = append(errs, errors.New("-latency must not be negative"))
	}
	if c.Emulators.FirestoreHost == "" || c.Emulators.AuthHost == "" {
		errs = append(errs, errors.New("FIRESTORE_EMULATOR_HOST and FIREBASE_AUTH_EMULATOR_HOST must point at the emulators (./scripts/bench starts them)"))
	}
	if c.Emulators.Project == "" {
		errs = append(errs, errors.New("GOOGLE_CLOUD_PROJECT must be set (a demo- project; the benchmark names its projects after it)"))
	}
	valid := map[string]bool{nameAuthStart: true, nameAuthCallback: true, namePublish: true}
	for _, n := range c.ProfileFunctions {
		if !valid[n] {
			errs = append(errs, fmt.Errorf("-profile-functions: unknown function %q", n))
		}
	}
	seen := map[string]bool{}
	for _, n := range c.Functions {
		switch {
		case !valid[n]:
			errs = append(errs, fmt.Errorf("-functions: unknown function %q", n))
		case seen[n]:
			errs = append(errs, fmt.Errorf("-functions: %s named twice", n))
		}
		seen[n] = true
	}
	return errors.Join(errs...)
}

// findRepo walks up from dir to the directory holding go.work.
func findRepo(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.work not found above the working directory: pass -repo")
		}
		dir = parent
	}
}

// run measures everything and returns the report (also printed to
// cfg.Table and, with cfg.Out, written as JSON).
func run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Table == nil {
		cfg.Table = io.Discard
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Repo == "" {
		repo, err := findRepo(".")
		if err != nil {
			return nil, err
		}
		cfg.Repo = repo
	}
	if cfg.WorkDir == "" {
		dir, err := os.MkdirTemp("", "threadsfn-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.WorkDir = dir
	}
	machine := describeMachine()
	if s0, err := readSystemCPU(); err == nil {
		if err := sleep(ctx, time.Second); err != nil {
			return nil, err
		}
		if s1, err := readSystemCPU(); err == nil {
			machine.BusyBeforeRun = busyFraction(s0, s1)
		}
	}
	rep := &Report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Machine: machine,
		Settings: Settings{
			Rounds: cfg.Rounds, Requests: cfg.Requests, Concurrency: cfg.Concurrency,
			Latency: cfg.Latency.String(), Flows: cfg.Flows, PublishRuns: cfg.PublishRuns,
			RuntimeEnv: runtimeEnvList(), Env: cfg.Env,
		},
		Notes: []string{
			"cold start is judged excluding the time spent waiting on the fake Threads (its latency is the network's, not the function's)",
			"the emulators, the fakes and the load generator share the machine's cores with the function",
			"Firestore RPCs and Auth calls are measured through counting proxies (gRPC frames decoded, HTTP requests counted) in the connect-flow and publish-count phases only",
			"each warm-up load, round, profile and count runs in a new project of the emulators, so no load queries what an earlier one wrote (the Firestore emulator's queries walk all of a project's history)",
		},
	}
	fmt.Fprintf(cfg.Log, "bench: %d rounds × %d requests at %d concurrent, Threads latency %s; emulators %s (Firestore) and %s (Auth)\n",
		cfg.Rounds, cfg.Requests, cfg.Concurrency, cfg.Latency, cfg.Emulators.FirestoreHost, cfg.Emulators.AuthHost)

	b, err := newBench(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer b.close()

	for _, name := range cfg.measured() {
		fmt.Fprintf(cfg.Log, "measuring %s\n", name)
		fr, err := b.measureFunction(ctx, name)
		if err != nil {
			return nil, err
		}
		rep.Functions = append(rep.Functions, fr)
	}
	fmt.Fprintln(cfg.Log, "counting the connect flow")
	if rep.Connect, err = b.measureConnect(ctx); err != nil {
		return nil, fmt.Errorf("connect flow: %w", err)
	}
	fmt.Fprintln(cfg.Log, "counting publishes")
	if rep.Publish, err = b.measurePublishCounts(ctx); err != nil {
		return nil, fmt.Errorf("publish counts: %w", err)
	}
	for _, name := range cfg.ProfileFunctions {
		fmt.Fprintf(cfg.Log, "profiling %s\n", name)
		pr, err := b.profileFunction(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", name, err)
		}
		rep.Profiles = append(rep.Profiles, pr)
	}
	rep.checkTargets()
	rep.printTable(cfg.Table)
	if cfg.Out != "" {
		if err := rep.writeJSON(cfg.Out); err != nil {
			return nil, err
		}
		fmt.Fprintf(cfg.Log, "wrote %s\n", cfg.Out)
	}
	return rep, nil
}
