package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"threadsfunctions.dev/shared/config"
	"threadsfunctions.dev/shared/fakes/cloudtasksfake"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/tokencrypt"

	"threadsfunctions.dev/shared/threads/threadstest"
)

// settleIdle is how long a function is left alone after its first answer
// before its idle memory is read.
const settleIdle = 250 * time.Millisecond

// bench holds what every measurement shares: the emulators, the fakes, the
// keyring fixtures are sealed with and the built binaries (each
// measurement's users and fixtures are in a project of its own: project.go).
type bench struct {
	cfg Config
	log io.Writer

	hc        *http.Client // for fixtures
	fake      *fakeThreads
	tasks     *cloudtasksfake.Server
	stopTasks func()
	keyText   string
	keyring   *tokencrypt.Keyring
	// runID and projects name the emulators' projects this run makes
	// (newProject): unique across runs against the same emulators.
	runID     string
	projects  atomic.Int64
	ids       threadsIDs
	bins      map[string]*builtFunction
	pprofBins map[string]*builtFunction
	// observed are the other processes whose CPU is read around each load:
	// the emulators and the benchmark itself (load generator and fakes).
	observed []observedProcess
}

// observedProcess is a process whose CPU time is read around each load.
type observedProcess struct {
	Name string
	PID  int
}

func newBench(ctx context.Context, cfg Config) (_ *bench, err error) {
	// b is not the named result: a failure returns nil, and what was
	// started must still be stopped.
	b := &bench{cfg: cfg, log: cfg.Log, hc: &http.Client{Timeout: 30 * time.Second}, bins: map[string]*builtFunction{}, pprofBins: map[string]*builtFunction{}}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.fake, err = startFakeThreads(cfg.Latency); err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// Tasks are only stored (and counted): thPublish's happy path creates
	// none.
	b.tasks, b.stopTasks = cloudtasksfake.StartListener(lis)

	if b.keyText, err = tokencrypt.GenerateKeyText("k1"); err != nil {
		return nil, err
	}
	if b.keyring, err = tokencrypt.ParseKeyring(b.keyText); err != nil {
		return nil, err
	}
	b.runID = randomHex(3)
	for _, e := range []struct{ name, host string }{
		{"Firestore emulator", cfg.Emulators.FirestoreHost},
		{"Auth emulator", cfg.Emulators.AuthHost},
	} {
		_, port, _ := net.SplitHostPort(e.host)
		pn, _ := strconv.Atoi(port)
		if pid, err := listenerPID(pn); err == nil {
			b.observed = append(b.observed, observedProcess{e.name, pid})
		} else {
			fmt.Fprintf(b.log, "not reading the %s's CPU: %v\n", e.name, err)
		}
	}
	b.observed = append(b.observed, observedProcess{"bench (load generator, fakes)", os.Getpid()})

	for _, f := range measuredFunctions() {
		bf, err := buildFunction(ctx, cfg.Repo, cfg.WorkDir, f, false, b.log)
		if err != nil {
			return nil, err
		}
		b.bins[f.Name] = bf
	}
	for _, name := range cfg.ProfileFunctions {
		bf, err := buildFunction(ctx, cfg.Repo, cfg.WorkDir, fn(name), true, b.log)
		if err != nil {
			return nil, err
		}
		b.pprofBins[name] = bf
	}
	return b, nil
}

func (b *bench) close() {
	if b.fake != nil {
		b.fake.close()
	}
	if b.stopTasks != nil {
		b.stopTasks()
	}
}

// fnEnv is the configuration every function gets, as deployed but pointed
// at the emulators and fakes, in project projectID.
func (b *bench) fnEnv(projectID string) map[string]string {
	return b.fnEnvVia(projectID, b.cfg.Emulators.FirestoreHost, b.cfg.Emulators.AuthHost)
}

// fnEnvVia is fnEnv with the emulators reached at fsHost and authHost
// (counting proxies).
func (b *bench) fnEnvVia(projectID, fsHost, authHost string) map[string]string {
	p := projectID
	return deployedEnv(map[string]string{
		"GOOGLE_CLOUD_PROJECT":        p,
		"FIRESTORE_EMULATOR_HOST":     fsHost,
		"FIREBASE_AUTH_EMULATOR_HOST": authHost,
		"THREADS_APP_ID":              appID,
		"THREADS_APP_SECRET":          appSecret,
		"THREADS_REDIRECT_URI":        redirectURI,
		"THREADS_AUTHORIZE_URL":       b.fake.URL + "/oauth/authorize",
		"THREADS_GRAPH_URL":           b.fake.URL,
		"ALLOWED_RETURN_ORIGINS":      appOrigin,
		"DEFAULT_RETURN_TO":           defaultBack,
		"CORS_ALLOWED_ORIGINS":        appOrigin,
		"TOKEN_ENCRYPTION_KEY":        b.keyText,
		"TASKS_QUEUE":                 taskQueue(p),
		"TASKS_TARGET_URL":            "http://127.0.0.1:9/thPublish",
		"TASKS_SERVICE_ACCOUNT":       "tasks-invoker@" + p + ".iam.gserviceaccount.com",
		"TASKS_EMULATOR_HOST":         b.tasks.Addr(),
	}, b.cfg.Env)
}

// taskQueue is thPublish's Cloud Tasks queue in project projectID.
func taskQueue(projectID string) string {
	return "projects/" + projectID + "/locations/local/queues/publish"
}

// deployedEnv is a function's whole environment: its configuration, the Go
// runtime's settings every function is deployed with
// (config.DeployedRuntimeEnv, which terraform/ sets), and over both the -env
// additions (KEY=VALUE), so that -env GOMAXPROCS=2 measures the runtime's own
// choice.
func deployedEnv(conf map[string]string, extra []string) map[string]string {
	env := config.DeployedRuntimeEnv()
	maps.Copy(env, conf)
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// workload says how to call one function with real requests.
type workload struct {
	fn function
	// prepare readies n requests (fixtures) and returns how to build them.
	prepare func(ctx context.Context, n int) (requestFunc, error)
	check   checkFunc
}

func expectStatus(want int) checkFunc {
	return func(resp *http.Response, body []byte) error {
		if resp.StatusCode != want {
			return fmt.Errorf("HTTP %d (want %d): %.300s", resp.StatusCode, want, body)
		}
		return nil
	}
}

func postJSON(ctx context.Context, u, idToken, body string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+idToken)
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// authStartWorkload: POST {"returnTo"} with a user's ID token; 200 with
// the authorize URL (ID token verified, state written).
func (b *bench) authStartWorkload(users []user) workload {
	body := `{"returnTo":"` + returnTo + `"}`
	return workload{
		fn: fn(nameAuthStart),
		prepare: func(_ context.Context, _ int) (requestFunc, error) {
			return func(ctx context.Context, i int) (*http.Request, error) {
				return postJSON(ctx, "", users[i%len(users)].IDToken, body)
			}, nil
		},
		check: expectStatus(http.StatusOK),
	}
}

// authCallbackWorkload: GET ?code&state with a fresh state and code for
// each request; 302 back to the app, connected (state consumed, two
// Threads round trips, account written).
func (b *bench) authCallbackWorkload(st *store.Store) workload {
	return workload{
		fn: fn(nameAuthCallback),
		prepare: func(ctx context.Context, n int) (requestFunc, error) {
			in, err := prepareCallbacks(ctx, st, b.fake, &b.ids, n)
			if err != nil {
				return nil, fmt.Errorf("preparing %d callbacks: %w", n, err)
			}
			return func(ctx context.Context, i int) (*http.Request, error) {
				q := url.Values{"state": {in[i].State}, "code": {in[i].Code + "#_"}}
				return http.NewRequestWithContext(ctx, http.MethodGet, "?"+q.Encode(), nil)
			}, nil
		},
		check: connected,
	}
}

// connected checks thAuthCallback's answer: back to the app, connected.
func connected(resp *http.Response, body []byte) error {
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "threads=connected") {
		return fmt.Errorf("HTTP %d to %q: %.300s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return nil
}

// publishWorkload: POST {"text"} for a user with one connected account; 200
// published (job written and leased, container created and published).
func (b *bench) publishWorkload(users []user) workload {
	return workload{
		fn: fn(namePublish),
		prepare: func(_ context.Context, _ int) (requestFunc, error) {
			for _, u := range users {
				b.fake.SetQuotaUsage(u.ThreadsID, 0)
			}
			tag := randomHex(4)
			return func(ctx context.Context, i int) (*http.Request, error) {
				return postJSON(ctx, "", users[i%len(users)].IDToken, fmt.Sprintf(`{"text":"Benchmark post %s-%d"}`, tag, i))
			}, nil
		},
		check: expectStatus(http.StatusOK),
	}
}

// workload is how to call the function name in project p.
func (b *bench) workload(name string, p *project) workload {
	switch name {
	case nameAuthStart:
		return b.authStartWorkload(p.starters)
	case nameAuthCallback:
		return b.authCallbackWorkload(p.store)
	default:
		return b.publishWorkload(p.publishers)
	}
}

// withURL makes build's requests go to base (they are built with an empty
// or query-only URL).
func withURL(base string, build requestFunc) requestFunc {
	bu, _ := url.Parse(base)
	return func(ctx context.Context, i int) (*http.Request, error) {
		req, err := build(ctx, i)
		if err != nil {
			return nil, err
		}
		u := *bu
		u.RawQuery = req.URL.RawQuery
		req.URL = &u
		req.Host = u.Host
		return req, nil
	}
}

// RoundResult is one fresh instance of a function: its cold start, then a
// load at the configured concurrency.
type RoundResult struct {
	// ColdStartMs is exec to the first successful answer of a real request.
	ColdStartMs float64 `json:"coldStartMs"`
	// ColdThreadsWaitMs is how much of that was spent waiting on the fake
	// Threads (its configured latency included); ColdExThreadsMs the rest.
	ColdThreadsWaitMs float64 `json:"coldThreadsWaitMs"`
	ColdExThreadsMs   float64 `json:"coldStartExThreadsMs"`
	// ListenMs is exec to the port accepting connections.
	ListenMs float64 `json:"listenMs"`
	// ColdCPUMs is the CPU the process used up to its first answer.
	ColdCPUMs float64 `json:"coldCpuMs"`
	// WarmMs is the median latency of a few requests sent one at a time
	// after the first; ColdOverheadMs is ColdStartMs minus WarmMs: what
	// starting the instance added.
	WarmMs         float64 `json:"warmSingleRequestMs"`
	ColdOverheadMs float64 `json:"coldOverheadMs"`

	IdleRSSMiB float64 `json:"idleRssMiB"`
	// PeakHWMMiB is VmHWM after the load: the peak resident set.
	PeakHWMMiB float64 `json:"peakHwmMiB"`
	// AfterLoadRSSMiB is VmRSS right after the load.
	AfterLoadRSSMiB float64 `json:"afterLoadRssMiB"`
	ThreadsAfter    int     `json:"osThreadsAfterLoad"`

	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"firstError,omitempty"`
	CPUMs       float64 `json:"cpuMs"`
	CPUPerReqMs float64 `json:"cpuPerRequestMs"`
	RPS         float64 `json:"throughputRps"`
	P50Ms       float64 `json:"p50Ms"`
	P95Ms       float64 `json:"p95Ms"`
	P99Ms       float64 `json:"p99Ms"`
	// MachineBusy is the share of all cores busy during the load (the
	// emulators and the load generator share the machine).
	MachineBusy float64 `json:"machineBusy"`
	// FunctionCores is the function's CPU time over the load's wall time.
	FunctionCores float64 `json:"functionCores"`
	// ThreadsConnections is how many TCP connections the function opened to
	// the fake Threads during the load.
	ThreadsConnections int64 `json:"threadsConnections"`
	LogBytes           int64 `json:"logBytes"`
	// OtherCPUPerReqMs is the CPU time other processes (the emulators, the
	// benchmark itself) used per request during the load.
	OtherCPUPerReqMs map[string]float64 `json:"otherCpuPerRequestMs,omitempty"`
	// OtherJITCores is the CPU the observed JVMs' JIT compilers used during
	// the load, in cores: a JVM still compiling competes with the function
	// for the machine.
	OtherJITCores map[string]float64 `json:"otherJitCores,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func mib(b int64) float64        { return float64(b) / (1 << 20) }

// Emulator warm-up: loads of the measured size through unmeasured
// instances, at least minWarmLoads of them, until one is at most
// warmSettled faster than the one before and the Firestore emulator's JIT
// compilers used at most jitQuiet of a core during it, and at most
// maxWarmLoads. Two loads were not always enough: at 20:41 thAuthStart's
// were 340 and 358 req/s, and its rounds still went 459, 575, 547, 652, 598
// req/s. Throughput alone was not either: at 23:05 the JVM's compilers used
// 0.4–0.75 of a core through all of thAuthStart's warm-up loads and its
// rounds (a quarter of the machine, which production Firestore does not
// spend), and went quiet only during thAuthCallback's.
const (
	minWarmLoads = 3
	maxWarmLoads = 16
	warmSettled  = 1.10
	jitQuiet     = 0.05
	// jitWindow is the shortest load whose JIT reading the rule trusts:
	// the kernel counts CPU in 10 ms ticks, so over a load of a fraction of
	// a second (the smoke test's) one tick reads as a busy compiler.
	jitWindow = time.Second
)

// warmLoad is what one warm-up load measured.
type warmLoad struct {
	RPS float64
	// JITCores is the CPU the observed JVMs' JIT compilers used during the
	// load, in cores (CPU time over the load's wall time); 0 when no
	// observed process is a JVM.
	JITCores float64
	// Elapsed is the load's wall time.
	Elapsed time.Duration
}

// warmEmulators sends the function's kind of traffic through unmeasured
// instances (each load a new one, in a new project, as a round) before its
// first round, and returns what each warm-up load measured. The emulators
// are JVM and Node processes that keep getting
// faster for thousands of requests of a kind while their JIT compilers work
// (with 200 warm-up requests, thAuthStart's first round ran at 290-340 req/s
// and its later ones at 400-720, the function's CPU per request following),
// which Firestore and Firebase Auth in production are not. So the warm-up
// repeats a load of the measured size until it stops getting faster and the
// JVM's compilers have gone quiet.
func (b *bench) warmEmulators(ctx context.Context, name string) ([]warmLoad, error) {
	conc, n := b.cfg.Concurrency, b.cfg.Requests
	warm := b.cfg.warmup()
	hc := newClient(conc)
	defer hc.CloseIdleConnections()
	// One load: a new instance in a new project, as a round has.
	load := func(count int) (warmLoad, error) {
		proj, wl, err := b.projectFor(ctx, name)
		if err != nil {
			return warmLoad{}, err
		}
		defer b.dropProject(proj)
		build, err := wl.prepare(ctx, count)
		if err != nil {
			return warmLoad{}, err
		}
		p, err := startFunction(ctx, name, b.bins[name].Bin, b.fnEnv(proj.ID))
		if err != nil {
			return warmLoad{}, err
		}
		defer p.stop()
		jit0 := b.otherJIT()
		lr := runLoad(ctx, hc, 0, count, conc, withURL(p.URL, build), wl.check)
		jit := jitCores(jit0, b.otherJIT(), lr.Elapsed)
		if lr.Errors > 0 {
			return warmLoad{}, fmt.Errorf("%s emulator warm-up: %s\n%s", name, lr.FirstError, p.logs.String())
		}
		w := warmLoad{RPS: lr.Throughput(), Elapsed: lr.Elapsed}
		for _, c := range jit {
			w.JITCores += c
		}
		return w, nil
	}
	var loads []warmLoad
	for len(loads) < maxWarmLoads && stillWarming(loads) {
		// Each load starts with the instance's own warm-up, as before a
		// measured load.
		w, err := load(warm + n)
		if err != nil {
			return nil, err
		}
		loads = append(loads, w)
	}
	fmt.Fprintf(b.log, "  %-14s emulators warmed up: %d unmeasured loads, %s\n", name, len(loads), fmtWarmup(loads))
	return loads, nil
}

// stillWarming: fewer than minWarmLoads warm-up loads ran, or the last was
// more than warmSettled times as fast as the one before it, or the JIT
// compilers used more than jitQuiet of a core during it (when it lasted
// jitWindow or more).
func stillWarming(loads []warmLoad) bool {
	if len(loads) < minWarmLoads {
		return true
	}
	last, before := loads[len(loads)-1], loads[len(loads)-2]
	return last.RPS > warmSettled*before.RPS || (last.JITCores > jitQuiet && last.Elapsed >= jitWindow)
}

// jitCores is the CPU each observed process's JIT compilers used between
// two readings, in cores over elapsed.
func jitCores(before, after map[string]time.Duration, elapsed time.Duration) map[string]float64 {
	out := map[string]float64{}
	if elapsed <= 0 {
		return out
	}
	for k, v := range after {
		if v0, ok := before[k]; ok {
			out[k] = max(0, float64(v-v0)/float64(elapsed))
		}
	}
	return out
}

// fmtWarmup is the warm-up loads' throughputs, and the JIT compilers' share
// in each when a JVM is observed: "272 → 468 req/s, JIT 0.61 → 0.02 cores".
func fmtWarmup(loads []warmLoad) string {
	rps := make([]float64, len(loads))
	jit := make([]string, len(loads))
	anyJIT := false
	for i, w := range loads {
		rps[i] = w.RPS
		jit[i] = strconv.FormatFloat(w.JITCores, 'f', 2, 64)
		anyJIT = anyJIT || w.JITCores > 0
	}
	s := fmtRates(rps) + " req/s"
	if anyJIT {
		s += ", JIT " + strings.Join(jit, " → ") + " cores"
	}
	return s
}

func fmtRates(rps []float64) string {
	out := make([]string, len(rps))
	for i, r := range rps {
		out[i] = strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strings.Join(out, " → ")
}

// measureRound starts a fresh instance of the function name, in a new
// project, and measures it.
func (b *bench) measureRound(ctx context.Context, name string, round int) (*RoundResult, error) {
	n, conc := b.cfg.Requests, b.cfg.Concurrency
	warm := b.cfg.warmup()
	proj, wl, err := b.projectFor(ctx, name)
	if err != nil {
		return nil, err
	}
	defer b.dropProject(proj)
	build, err := wl.prepare(ctx, 1+warmSingle+warm+n)
	if err != nil {
		return nil, err
	}
	bin := b.bins[wl.fn.Name]
	hc := newClient(conc)
	defer hc.CloseIdleConnections()

	mark := b.fake.mark()
	p, err := startFunction(ctx, wl.fn.Name, bin.Bin, b.fnEnv(proj.ID))
	if err != nil {
		return nil, err
	}
	defer p.stop()
	build = withURL(p.URL, build)
	r := &RoundResult{ListenMs: ms(p.Listening)}

	// Cold start: the first real request, sent as soon as the port listens.
	req, err := build(ctx, 0)
	if err != nil {
		return nil, err
	}
	if _, _, err := doOnce(ctx, hc, req, wl.check); err != nil {
		return nil, fmt.Errorf("%s round %d: first request: %w\n%s", wl.fn.Name, round, err, p.logs.String())
	}
	cold := time.Since(p.Started)
	coldCPU, err := cpuTime(p.PID)
	if err != nil {
		return nil, err
	}
	_, wait := sequentialRoundTrips(b.fake.callsSince(mark))
	r.ColdStartMs, r.ColdThreadsWaitMs, r.ColdExThreadsMs, r.ColdCPUMs = ms(cold), ms(wait), ms(cold-wait), ms(coldCPU)

	if err := sleep(ctx, settleIdle); err != nil {
		return nil, err
	}
	idle, err := processMemory(p.PID)
	if err != nil {
		return nil, err
	}
	r.IdleRSSMiB = mib(idle.RSS)

	// A few requests one at a time: the warm latency.
	wr := runLoad(ctx, hc, 1, warmSingle, 1, build, wl.check)
	if wr.Errors > 0 {
		return nil, fmt.Errorf("%s round %d: warm requests: %s\n%s", wl.fn.Name, round, wr.FirstError, p.logs.String())
	}
	r.WarmMs = ms(wr.Percentile(50))
	r.ColdOverheadMs = r.ColdStartMs - r.WarmMs

	// Warm-up at full concurrency (not measured), then the measured load.
	from := 1 + warmSingle
	if wr := runLoad(ctx, hc, from, warm, conc, build, wl.check); wr.Errors > 0 {
		return nil, fmt.Errorf("%s round %d: warm-up: %d of %d failed: %s\n%s", wl.fn.Name, round, wr.Errors, wr.Requests, wr.FirstError, p.logs.String())
	}
	cpu0, err := cpuTime(p.PID)
	if err != nil {
		return nil, err
	}
	sys0, _ := readSystemCPU()
	other0, jit0 := b.otherCPU(), b.otherJIT()
	conns0 := b.fake.NewConnections()
	lr := runLoad(ctx, hc, from+warm, n, conc, build, wl.check)
	cpu1, err := cpuTime(p.PID)
	if err != nil {
		return nil, err
	}
	sys1, _ := readSystemCPU()
	other1, jit1 := b.otherCPU(), b.otherJIT()
	mem, err := processMemory(p.PID)
	if err != nil {
		return nil, err
	}
	if err := p.alive(); err != nil {
		return nil, err
	}
	r.ThreadsConnections = b.fake.NewConnections() - conns0
	r.PeakHWMMiB, r.AfterLoadRSSMiB, r.ThreadsAfter = mib(mem.HWM), mib(mem.RSS), mem.Threads
	r.Requests, r.Errors, r.FirstError = lr.Requests, lr.Errors, lr.FirstError
	r.CPUMs = ms(cpu1 - cpu0)
	if ok := lr.Requests - lr.Errors; ok > 0 {
		r.CPUPerReqMs = r.CPUMs / float64(ok)
		r.OtherCPUPerReqMs = map[string]float64{}
		for k, v := range other1 {
			if v0, found := other0[k]; found {
				r.OtherCPUPerReqMs[k] = ms(v-v0) / float64(ok)
			}
		}
	}
	r.OtherJITCores = jitCores(jit0, jit1, lr.Elapsed)
	r.RPS = lr.Throughput()
	r.P50Ms, r.P95Ms, r.P99Ms = ms(lr.Percentile(50)), ms(lr.Percentile(95)), ms(lr.Percentile(99))
	r.MachineBusy = busyFraction(sys0, sys1)
	if lr.Elapsed > 0 {
		r.FunctionCores = float64(cpu1-cpu0) / float64(lr.Elapsed)
	}
	r.LogBytes = p.logs.Bytes()
	if lr.Errors > 0 {
		fmt.Fprintf(b.log, "  %s round %d: %d of %d requests failed; first: %s\n", wl.fn.Name, round, lr.Errors, lr.Requests, lr.FirstError)
	}
	return r, nil
}

// warmSingle is how many requests are sent one at a time after the first,
// for the warm latency.
const warmSingle = 5

// otherJIT reads the CPU time of the observed processes' JIT compiler
// threads; processes that have none or cannot be read are left out.
func (b *bench) otherJIT() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, o := range b.observed {
		if t, ok, err := jitCPU(o.PID); err == nil && ok {
			out[o.Name] = t
		}
	}
	return out
}

// otherCPU reads the CPU time of the observed processes; those that cannot
// be read are left out.
func (b *bench) otherCPU() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, o := range b.observed {
		if t, err := cpuTime(o.PID); err == nil {
			out[o.Name] = t
		}
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// FunctionResult sums up a function's rounds.
type FunctionResult struct {
	Name      string         `json:"name"`
	BinaryMiB float64        `json:"binaryMiB"`
	Rounds    []*RoundResult `json:"rounds"`
	// WarmupRPS is the throughput of each unmeasured load that warmed the
	// emulators up before the rounds.
	WarmupRPS []float64 `json:"emulatorWarmupRps,omitempty"`
	// WarmupJITCores is the share of a core the JVM's JIT compilers used
	// during each of those loads.
	WarmupJITCores []float64 `json:"emulatorWarmupJitCores,omitempty"`

	ColdStartMs       Stat `json:"coldStartMs"`
	ColdExThreadsMs   Stat `json:"coldStartExThreadsMs"`
	ColdThreadsWaitMs Stat `json:"coldThreadsWaitMs"`
	ListenMs          Stat `json:"listenMs"`
	ColdCPUMs         Stat `json:"coldCpuMs"`
	WarmMs            Stat `json:"warmSingleRequestMs"`
	ColdOverheadMs    Stat `json:"coldOverheadMs"`
	IdleRSSMiB        Stat `json:"idleRssMiB"`
	PeakHWMMiB        Stat `json:"peakHwmMiB"`
	CPUPerReqMs       Stat `json:"cpuPerRequestMs"`
	RPS               Stat `json:"throughputRps"`
	P50Ms             Stat `json:"p50Ms"`
	P95Ms             Stat `json:"p95Ms"`
	P99Ms             Stat `json:"p99Ms"`
	MachineBusy       Stat `json:"machineBusy"`
	FunctionCores     Stat `json:"functionCores"`
	ThreadsConns      Stat `json:"threadsConnectionsPerLoad"`
	// OtherCPUPerReqMs is the CPU other processes used per request.
	OtherCPUPerReqMs map[string]Stat `json:"otherCpuPerRequestMs"`
	// OtherJITCores is the share of a core the JVMs' JIT compilers used
	// during the loads.
	OtherJITCores map[string]Stat `json:"otherJitCores,omitempty"`
	Errors        int             `json:"errors"`
	// Init is package initialisation at start-up (GODEBUG=inittrace=1),
	// over one extra start per round.
	Init *InitResult `json:"init"`
}

// Stat is the median and spread (min, max) of a figure over rounds.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

func statOf(xs []float64) Stat {
	if len(xs) == 0 {
		return Stat{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

func statBy(rounds []*RoundResult, f func(*RoundResult) float64) Stat {
	xs := make([]float64, len(rounds))
	for i, r := range rounds {
		xs[i] = f(r)
	}
	return statOf(xs)
}

func (b *bench) measureFunction(ctx context.Context, name string) (*FunctionResult, error) {
	fr := &FunctionResult{Name: name, BinaryMiB: mib(b.bins[name].Bytes)}
	var err error
	loads, err := b.warmEmulators(ctx, name)
	if err != nil {
		return nil, err
	}
	for _, w := range loads {
		fr.WarmupRPS = append(fr.WarmupRPS, w.RPS)
		fr.WarmupJITCores = append(fr.WarmupJITCores, w.JITCores)
	}
	for round := 1; round <= b.cfg.Rounds; round++ {
		r, err := b.measureRound(ctx, name, round)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(b.log, "  %-14s round %d: cold %.0f ms (%.0f ms excl. Threads), idle %.1f MiB, peak %.1f MiB, CPU %.3f ms/req, %.0f req/s, p50 %.1f p99 %.1f ms\n",
			name, round, r.ColdStartMs, r.ColdExThreadsMs, r.IdleRSSMiB, r.PeakHWMMiB, r.CPUPerReqMs, r.RPS, r.P50Ms, r.P99Ms)
		fr.Rounds = append(fr.Rounds, r)
		fr.Errors += r.Errors
	}
	var traces []initTrace
	for range b.cfg.Rounds {
		t, err := b.traceInit(ctx, name)
		if err != nil {
			return nil, err
		}
		traces = append(traces, t)
	}
	fr.Init = summariseInit(traces)
	rs := fr.Rounds
	fr.ColdStartMs = statBy(rs, func(r *RoundResult) float64 { return r.ColdStartMs })
	fr.ColdExThreadsMs = statBy(rs, func(r *RoundResult) float64 { return r.ColdExThreadsMs })
	fr.ColdThreadsWaitMs = statBy(rs, func(r *RoundResult) float64 { return r.ColdThreadsWaitMs })
	fr.ListenMs = statBy(rs, func(r *RoundResult) float64 { return r.ListenMs })
	fr.ColdCPUMs = statBy(rs, func(r *RoundResult) float64 { return r.ColdCPUMs })
	fr.WarmMs = statBy(rs, func(r *RoundResult) float64 { return r.WarmMs })
	fr.ColdOverheadMs = statBy(rs, func(r *RoundResult) float64 { return r.ColdOverheadMs })
	fr.IdleRSSMiB = statBy(rs, func(r *RoundResult) float64 { return r.IdleRSSMiB })
	fr.PeakHWMMiB = statBy(rs, func(r *RoundResult) float64 { return r.PeakHWMMiB })
	fr.CPUPerReqMs = statBy(rs, func(r *RoundResult) float64 { return r.CPUPerReqMs })
	fr.RPS = statBy(rs, func(r *RoundResult) float64 { return r.RPS })
	fr.P50Ms = statBy(rs, func(r *RoundResult) float64 { return r.P50Ms })
	fr.P95Ms = statBy(rs, func(r *RoundResult) float64 { return r.P95Ms })
	fr.P99Ms = statBy(rs, func(r *RoundResult) float64 { return r.P99Ms })
	fr.MachineBusy = statBy(rs, func(r *RoundResult) float64 { return r.MachineBusy })
	fr.FunctionCores = statBy(rs, func(r *RoundResult) float64 { return r.FunctionCores })
	fr.ThreadsConns = statBy(rs, func(r *RoundResult) float64 { return float64(r.ThreadsConnections) })
	fr.OtherCPUPerReqMs = map[string]Stat{}
	for _, o := range b.observed {
		if _, ok := rs[0].OtherCPUPerReqMs[o.Name]; ok {
			fr.OtherCPUPerReqMs[o.Name] = statBy(rs, func(r *RoundResult) float64 { return r.OtherCPUPerReqMs[o.Name] })
		}
		if _, ok := rs[0].OtherJITCores[o.Name]; ok {
			if fr.OtherJITCores == nil {
				fr.OtherJITCores = map[string]Stat{}
			}
			fr.OtherJITCores[o.Name] = statBy(rs, func(r *RoundResult) float64 { return r.OtherJITCores[o.Name] })
		}
	}
	return fr, nil
}

// countedInstance is a function instance whose Firestore and Auth traffic
// goes through counting proxies.
type countedInstance struct {
	*fnProcess
	fs   *rpcCounter
	auth *httpCounter
}

func (b *bench) startCounted(ctx context.Context, name string, proj *project) (*countedInstance, error) {
	fs, err := startRPCCounter(b.cfg.Emulators.FirestoreHost)
	if err != nil {
		return nil, err
	}
	auth, err := startHTTPCounter(b.cfg.Emulators.AuthHost)
	if err != nil {
		fs.close()
		return nil, err
	}
	p, err := startFunction(ctx, name, b.bins[name].Bin, b.fnEnvVia(proj.ID, fs.Addr(), auth.Addr()))
	if err != nil {
		fs.close()
		auth.close()
		return nil, err
	}
	return &countedInstance{fnProcess: p, fs: fs, auth: auth}, nil
}

func (c *countedInstance) stop() {
	c.fnProcess.stop()
	c.fs.close()
	c.auth.close()
}

// counts is a snapshot of what an instance asked of its dependencies.
type counts struct {
	fs, auth map[string]int
	tasks    int
	mark     int
}

func (b *bench) snapshot(cs ...*countedInstance) []counts {
	out := make([]counts, len(cs))
	for i, c := range cs {
		out[i] = counts{fs: c.fs.Snapshot(), auth: c.auth.Snapshot(), tasks: b.tasks.CreateCount(), mark: b.fake.mark()}
	}
	return out
}

// ConnectResult is the whole connect flow, thAuthStart then thAuthCallback,
// each on its own warm instance.
type ConnectResult struct {
	Runs        int  `json:"runs"`
	E2EMs       Stat `json:"endToEndMs"`
	StartMs     Stat `json:"authStartMs"`
	CallbackMs  Stat `json:"authCallbackMs"`
	ThreadsWait Stat `json:"threadsWaitMs"`
	// SequentialThreads is the number of Threads round trips waited for one
	// after the other (overlapping calls count once), per flow.
	SequentialThreads Stat           `json:"sequentialThreadsRoundTrips"`
	ThreadsCalls      map[string]int `json:"threadsCallsPerFlow"`
	// Firestore RPCs per flow by method, and Auth emulator calls, by function.
	FirestoreRPCs map[string]map[string]int `json:"firestoreRpcsPerFlow"`
	AuthCalls     map[string]map[string]int `json:"authCallsPerFlow"`
	// Consistent is false when the counts differed between flows (the maps
	// then show the first flow's).
	Consistent bool `json:"countsConsistent"`
}

func (b *bench) measureConnect(ctx context.Context) (*ConnectResult, error) {
	proj, err := b.newProject(ctx, 1, 0)
	if err != nil {
		return nil, err
	}
	defer b.dropProject(proj)
	users := proj.starters
	start, err := b.startCounted(ctx, nameAuthStart, proj)
	if err != nil {
		return nil, err
	}
	defer start.stop()
	cb, err := b.startCounted(ctx, nameAuthCallback, proj)
	if err != nil {
		return nil, err
	}
	defer cb.stop()
	hc := newClient(1)
	defer hc.CloseIdleConnections()

	flow := func() (startD, cbD time.Duration, err error) {
		t0 := time.Now()
		req, err := postJSON(ctx, start.URL, users[0].IDToken, `{"returnTo":"`+returnTo+`"}`)
		if err != nil {
			return 0, 0, err
		}
		_, body, err := doOnce(ctx, hc, req, expectStatus(http.StatusOK))
		if err != nil {
			return 0, 0, fmt.Errorf("thAuthStart: %w", err)
		}
		startD = time.Since(t0)
		var out struct{ URL string }
		if err := json.Unmarshal(body, &out); err != nil {
			return 0, 0, fmt.Errorf("thAuthStart answer: %w", err)
		}
		au, err := url.Parse(out.URL)
		if err != nil {
			return 0, 0, err
		}
		// The user consents on Threads' page, which redirects to the callback.
		tid := b.ids.next()
		code := b.fake.IssueCode(threadsUser(tid))
		q := url.Values{"state": {au.Query().Get("state")}, "code": {code + "#_"}}
		t1 := time.Now()
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, cb.URL+"?"+q.Encode(), nil)
		if err != nil {
			return 0, 0, err
		}
		if _, _, err := doOnce(ctx, hc, req, connected); err != nil {
			return 0, 0, fmt.Errorf("thAuthCallback: %w", err)
		}
		return startD, time.Since(t1), nil
	}
	// One flow to warm both instances up (their first request builds
	// their clients).
	if _, _, err := flow(); err != nil {
		return nil, err
	}
	res := &ConnectResult{Runs: b.cfg.Flows, Consistent: true}
	var e2e, st, cbs, waits, seqs []float64
	for i := range b.cfg.Flows {
		before := b.snapshot(start, cb)
		sd, cd, err := flow()
		if err != nil {
			return nil, err
		}
		after := b.snapshot(start, cb)
		calls := b.fake.callsSince(before[0].mark)
		seq, wait := sequentialRoundTrips(calls)
		e2e, st, cbs = append(e2e, ms(sd+cd)), append(st, ms(sd)), append(cbs, ms(cd))
		waits, seqs = append(waits, ms(wait)), append(seqs, float64(seq))
		fsc := map[string]map[string]int{
			nameAuthStart: diffCounts(before[0].fs, after[0].fs), nameAuthCallback: diffCounts(before[1].fs, after[1].fs),
		}
		authc := map[string]map[string]int{
			nameAuthStart: diffCounts(before[0].auth, after[0].auth), nameAuthCallback: diffCounts(before[1].auth, after[1].auth),
		}
		tc := callCounts(calls)
		if i == 0 {
			res.ThreadsCalls, res.FirestoreRPCs, res.AuthCalls = tc, fsc, authc
		} else if !maps.Equal(tc, res.ThreadsCalls) || !maps.EqualFunc(fsc, res.FirestoreRPCs, maps.Equal) || !maps.EqualFunc(authc, res.AuthCalls, maps.Equal) {
			res.Consistent = false
		}
	}
	res.E2EMs, res.StartMs, res.CallbackMs = statOf(e2e), statOf(st), statOf(cbs)
	res.ThreadsWait, res.SequentialThreads = statOf(waits), statOf(seqs)
	if n := start.fs.ParseErrors() + cb.fs.ParseErrors(); n > 0 {
		return nil, fmt.Errorf("the Firestore counting proxy could not follow %d connections", n)
	}
	return res, nil
}

// PublishCounts is what one publish of a kind costs, on the happy path.
type PublishCounts struct {
	Kind      string `json:"kind"`
	Body      string `json:"body"`
	Runs      int    `json:"runs"`
	LatencyMs Stat   `json:"latencyMs"`

	ThreadsCalls      map[string]int `json:"threadsCalls"`
	ThreadsCallsTotal int            `json:"threadsCallsTotal"`
	SequentialThreads int            `json:"sequentialThreadsRoundTrips"`
	FirestoreRPCs     map[string]int `json:"firestoreRpcs"`
	FirestoreTotal    int            `json:"firestoreRpcsTotal"`
	AuthCalls         map[string]int `json:"authCalls"`
	TasksCreated      int            `json:"cloudTasksCreated"`
	Consistent        bool           `json:"countsConsistent"`

	// For kinds whose containers are waited for: the time from a create
	// call's answer to the first status read after it, and from the last
	// status read's answer (FINISHED) to the publish call, over the runs.
	FirstCheckMs           *Stat `json:"firstStatusCheckAfterCreateMs,omitempty"`
	PublishAfterFinishedMs *Stat `json:"publishAfterFinishedMs,omitempty"`
	// StatusReads is the status calls of the first run.
	StatusReads int `json:"statusReads,omitempty"`
}

// mediaWaits finds, in one publish's Threads calls, the gap from the last
// create answer to the first status read after it, and from the last status
// answer to the publish call. ok is false when the publish read no status.
func mediaWaits(calls []threadsCall) (firstCheck, afterFinished time.Duration, reads int, ok bool) {
	calls = slices.Clone(calls)
	slices.SortFunc(calls, func(a, b threadsCall) int { return a.Start.Compare(b.Start) })
	var lastCreateEnd, lastStatusEnd time.Time
	first, published := false, false
	for _, c := range calls {
		switch c.Endpoint {
		case threadstest.EndpointCreate:
			lastCreateEnd = c.End
		case threadstest.EndpointStatus:
			reads++
			if !first && !lastCreateEnd.IsZero() {
				firstCheck, first = c.Start.Sub(lastCreateEnd), true
			}
			lastStatusEnd = c.End
		case threadstest.EndpointPublish:
			if !lastStatusEnd.IsZero() {
				afterFinished, published = c.Start.Sub(lastStatusEnd), true
			}
		}
	}
	return firstCheck, afterFinished, reads, first && published
}

func (b *bench) measurePublishCounts(ctx context.Context) ([]*PublishCounts, error) {
	proj, err := b.newProject(ctx, 0, 1)
	if err != nil {
		return nil, err
	}
	defer b.dropProject(proj)
	users := proj.publishers
	inst, err := b.startCounted(ctx, namePublish, proj)
	if err != nil {
		return nil, err
	}
	defer inst.stop()
	hc := newClient(1)
	defer hc.CloseIdleConnections()
	kinds := []struct{ kind, body string }{
		{"text", `{"text":"Counting a text post %d"}`},
		{"image", `{"text":"Counting an image post %d","imageUrl":"https://example.com/bench/a.jpg","altText":"a"}`},
		{"carousel (2 images)", `{"text":"Counting a carousel %d","media":[{"type":"image","url":"https://example.com/bench/a.jpg"},{"type":"image","url":"https://example.com/bench/b.jpg"}]}`},
		// The fake keeps a video IN_PROGRESS for one status read: the
		// engine must read again after one backoff step, then publish.
		{kindVideo, `{"text":"Counting a video post %d","videoUrl":"https://example.com/bench/v.mp4"}`},
	}
	post := func(body string) error {
		req, err := postJSON(ctx, inst.URL, users[0].IDToken, body)
		if err != nil {
			return err
		}
		_, _, err = doOnce(ctx, hc, req, expectStatus(http.StatusOK))
		return err
	}
	// Warm the instance up with a text post.
	if err := post(fmt.Sprintf(kinds[0].body, -1)); err != nil {
		return nil, fmt.Errorf("thPublish warm-up: %w", err)
	}
	var out []*PublishCounts
	seq := 0
	for _, k := range kinds {
		pc := &PublishCounts{Kind: k.kind, Body: k.body, Runs: b.cfg.PublishRuns, Consistent: true}
		if k.kind == kindVideo {
			b.fake.SetProcessing(1)
		}
		var lat, firstChecks, afterFinished []float64
		for i := range b.cfg.PublishRuns {
			seq++
			before := b.snapshot(inst)[0]
			t0 := time.Now()
			if err := post(fmt.Sprintf(k.body, seq)); err != nil {
				return nil, fmt.Errorf("thPublish %s: %w", k.kind, err)
			}
			lat = append(lat, ms(time.Since(t0)))
			after := b.snapshot(inst)[0]
			calls := b.fake.callsSince(before.mark)
			sr, _ := sequentialRoundTrips(calls)
			tc, fsc, ac := callCounts(calls), diffCounts(before.fs, after.fs), diffCounts(before.auth, after.auth)
			tasks := after.tasks - before.tasks
			if fc, af, reads, ok := mediaWaits(calls); ok {
				firstChecks, afterFinished = append(firstChecks, ms(fc)), append(afterFinished, ms(af))
				if i == 0 {
					pc.StatusReads = reads
				}
			}
			if i == 0 {
				pc.ThreadsCalls, pc.ThreadsCallsTotal, pc.SequentialThreads = tc, len(calls), sr
				pc.FirestoreRPCs, pc.FirestoreTotal, pc.AuthCalls, pc.TasksCreated = fsc, sumCounts(fsc), ac, tasks
			} else if !maps.Equal(tc, pc.ThreadsCalls) || !maps.Equal(fsc, pc.FirestoreRPCs) || tasks != pc.TasksCreated || sr != pc.SequentialThreads {
				pc.Consistent = false
			}
		}
		b.fake.SetProcessing(0)
		pc.LatencyMs = statOf(lat)
		if len(firstChecks) > 0 {
			fc, af := statOf(firstChecks), statOf(afterFinished)
			pc.FirstCheckMs, pc.PublishAfterFinishedMs = &fc, &af
		}
		out = append(out, pc)
	}
	if n := inst.fs.ParseErrors(); n > 0 {
		return nil, fmt.Errorf("the Firestore counting proxy could not follow %d connections", n)
	}
	return out, nil
}

// ProfileResult lists the profiles taken of a function under load.
type ProfileResult struct {
	Function string   `json:"function"`
	Requests int      `json:"requests"`
	Files    []string `json:"files"`
}

// profileFunction runs the load against the profiling variant of a
// function and saves its CPU profile and the allocations made during the
// load, with pprof's top tables beside them. Like a round, it runs in a
// new project.
func (b *bench) profileFunction(ctx context.Context, name string) (*ProfileResult, error) {
	proj, wl, err := b.projectFor(ctx, name)
	if err != nil {
		return nil, err
	}
	defer b.dropProject(proj)
	bf := b.pprofBins[name]
	dir := b.cfg.ProfileDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	n, conc := b.cfg.Requests, b.cfg.Concurrency
	warm := b.cfg.warmup()
	build, err := wl.prepare(ctx, 1+warm+n)
	if err != nil {
		return nil, err
	}
	pport, err := freePort()
	if err != nil {
		return nil, err
	}
	paddr := fmt.Sprintf("127.0.0.1:%d", pport)
	env := b.fnEnv(proj.ID)
	env["BENCH_PPROF_ADDR"] = paddr
	p, err := startFunction(ctx, wl.fn.Name, bf.Bin, env)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	build = withURL(p.URL, build)
	hc := newClient(conc)
	defer hc.CloseIdleConnections()
	if lr := runLoad(ctx, hc, 0, 1+warm, conc, build, wl.check); lr.Errors > 0 {
		return nil, fmt.Errorf("%s profile warm-up: %s", wl.fn.Name, lr.FirstError)
	}
	pc := &http.Client{Timeout: 2 * time.Minute}
	call := func(method, path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, method, "http://"+paddr+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := pc.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, body)
		}
		return body, err
	}
	base := filepath.Join(dir, wl.fn.Dir)
	allocsBefore, err := call(http.MethodGet, "/debug/pprof/allocs")
	if err != nil {
		return nil, err
	}
	if _, err := call(http.MethodPost, "/bench/cpu/start"); err != nil {
		return nil, err
	}
	lr := runLoad(ctx, hc, 1+warm, n, conc, build, wl.check)
	cpu, err := call(http.MethodPost, "/bench/cpu/stop")
	if err != nil {
		return nil, err
	}
	allocsAfter, err := call(http.MethodGet, "/debug/pprof/allocs")
	if err != nil {
		return nil, err
	}
	if lr.Errors > 0 {
		return nil, fmt.Errorf("%s profile load: %d errors: %s", wl.fn.Name, lr.Errors, lr.FirstError)
	}
	pr := &ProfileResult{Function: wl.fn.Name, Requests: n}
	for _, f := range []struct {
		name string
		data []byte
	}{{".cpu.pb.gz", cpu}, {".allocs-before.pb.gz", allocsBefore}, {".allocs-after.pb.gz", allocsAfter}} {
		if err := os.WriteFile(base+f.name, f.data, 0o644); err != nil {
			return nil, err
		}
		pr.Files = append(pr.Files, base+f.name)
	}
	// Text tables for the documentation.
	for _, t := range []struct {
		out  string
		args []string
	}{
		{".cpu.top.txt", []string{"-top", "-nodecount=30", base + ".cpu.pb.gz"}},
		{".cpu.cum.txt", []string{"-top", "-cum", "-nodecount=40", base + ".cpu.pb.gz"}},
		{".allocs.top.txt", []string{"-top", "-nodecount=30", "-sample_index=alloc_space", "-base", base + ".allocs-before.pb.gz", base + ".allocs-after.pb.gz"}},
		{".allocs.cum.txt", []string{"-top", "-cum", "-nodecount=40", "-sample_index=alloc_space", "-base", base + ".allocs-before.pb.gz", base + ".allocs-after.pb.gz"}},
	} {
		cmd := execGo(ctx, append([]string{"tool", "pprof"}, t.args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("go tool pprof %s: %w\n%s", strings.Join(t.args, " "), err, out)
		}
		if err := os.WriteFile(base+t.out, out, 0o644); err != nil {
			return nil, err
		}
		pr.Files = append(pr.Files, base+t.out)
	}
	fmt.Fprintf(b.log, "  profiled %s under %d requests: %s.*\n", wl.fn.Name, n, base)
	return pr, nil
}
