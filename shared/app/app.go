// Package app wires a function's dependencies once per instance, lazily, on
// the first request: the Cloud Functions cold-start pattern.
//
// A function's function.go is then a few lines: register with
// functions.HTTP a handler made by Lazy, giving what the function needs and
// how to build its http.Handler from the Deps. Nothing fallible runs in
// init(); a misconfigured instance answers 500 "misconfigured" and logs one
// line naming every problem, instead of crashing.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	"google.golang.org/api/option"

	"threadsfunctions.dev/shared/auth"
	"threadsfunctions.dev/shared/config"
	"threadsfunctions.dev/shared/httpx"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/secrets"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/tasks"
	"threadsfunctions.dev/shared/threads"
	"threadsfunctions.dev/shared/tokencrypt"
)

// Options say what a function needs.
type Options struct {
	// Needs selects the configuration the function requires.
	Needs config.Needs
	// Auth builds a Firebase ID-token verifier.
	Auth bool

	// Lookup reads configuration; nil reads the process environment.
	Lookup config.Lookuper
	// Logger receives the function's logs; nil writes Cloud Logging JSON to stdout.
	Logger *slog.Logger
	// SecretManager options (tests and local runs point the real client at a fake).
	SecretManager []option.ClientOption
	// CloudTasks options (tests point the real client at a fake).
	CloudTasks []option.ClientOption
}

// Deps are a function instance's clients, built once.
type Deps struct {
	Config  *config.Config
	Log     *slog.Logger
	Store   *store.Store
	Auth    auth.Verifier
	Threads *threads.Client
	// AppSecret is the Threads app secret (signed_request checks); empty
	// unless Needs.AppSecret or Needs.OAuthCallback.
	AppSecret string
	// Keyring seals and opens access tokens (nil unless Needs.Tokens).
	Keyring *tokencrypt.Keyring
	// Tasks enqueues Cloud Tasks and TaskVerifier authenticates their
	// deliveries (nil unless Needs.Tasks).
	Tasks        *tasks.Enqueuer
	TaskVerifier *tasks.Verifier
	// SchedulerVerifier authenticates Cloud Scheduler's calls (nil unless Needs.Scheduler).
	SchedulerVerifier *tasks.Verifier
}

// Route returns the httpx.Route defaults for this instance: its logger,
// project and CORS policy.
func (d *Deps) Route(methods ...string) httpx.Route {
	return httpx.Route{
		Methods:      methods,
		AllowOrigin:  d.Config.CORSOriginAllowed,
		AllowHeaders: []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Cloud-Trace-Context", "traceparent"},
		Logger:       d.Log,
		ProjectID:    d.Config.ProjectID,
	}
}

// Close releases the clients Build made (their connections). Deps are
// built once per instance and normally live as long as it; Lazy closes
// those whose handler could not be built, so a retried start-up does not
// leave a client behind on every request.
func (d *Deps) Close() error {
	var errs []error
	if d.Tasks != nil {
		errs = append(errs, d.Tasks.Close())
	}
	if d.Store != nil {
		errs = append(errs, d.Store.Close())
	}
	return errors.Join(errs...)
}

// Build makes the Deps for opts. The error names every configuration
// problem (errors.Is(err, ErrConfig)) or the client that could not be built;
// on an error, nothing Build made is left open.
func Build(ctx context.Context, opts Options) (*Deps, error) {
	cfg, err := loadConfig(opts)
	if err != nil {
		return nil, err
	}
	return build(ctx, opts, cfg)
}

// loadConfig reads and checks the configuration opts need (ErrConfig).
func loadConfig(opts Options) (*config.Config, error) {
	cfg, err := config.Load(lookupOf(opts), opts.Needs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return cfg, nil
}

// lookupOf is where opts says the configuration is read from.
func lookupOf(opts Options) config.Lookuper {
	if opts.Lookup != nil {
		return opts.Lookup
	}
	return config.OSLookuper()
}

// build makes the clients and reads the secrets of a loaded configuration.
func build(ctx context.Context, opts Options, cfg *config.Config) (_ *Deps, err error) {
	log := opts.Logger
	if log == nil {
		log = logging.New(os.Stdout, slog.LevelInfo)
	}
	d := &Deps{Config: cfg, Log: log}

	var accessor secrets.Accessor
	if cfg.ThreadsAppSecretName != "" || cfg.TokenEncryptionKeyName != "" {
		sm, err := secrets.NewSecretManager(ctx, opts.SecretManager...)
		if err != nil {
			return nil, fmt.Errorf("secret manager client: %w", err)
		}
		// Every secret is read once per instance, here; the client is not needed again.
		defer func() { _ = sm.Close() }()
		accessor = sm
	}

	// The secrets and the clients do not depend on each other: build them concurrently.
	var (
		appSecret string
		keyring   *tokencrypt.Keyring
	)
	g, gctx := errgroup.WithContext(ctx)
	if opts.Needs.OAuthCallback || opts.Needs.AppSecret {
		g.Go(recovered(func() error {
			s, err := secrets.Resolve(gctx, accessor, cfg.ThreadsAppSecret, cfg.ThreadsAppSecretName)
			if err != nil {
				return fmt.Errorf("threads app secret: %w", err)
			}
			if strings.TrimSpace(s) == "" {
				// A version holding only a newline (an unset variable piped
				// into gcloud) would make every signed_request signed with
				// the empty key valid.
				return fmt.Errorf("%w: THREADS_APP_SECRET is empty", ErrConfig)
			}
			appSecret = s
			return nil
		}))
	}
	if opts.Needs.Tokens {
		g.Go(recovered(func() error {
			text, err := secrets.Resolve(gctx, accessor, cfg.TokenEncryptionKey, cfg.TokenEncryptionKeyName)
			if err != nil {
				return fmt.Errorf("token encryption key: %w", err)
			}
			if keyring, err = tokencrypt.ParseKeyring(text); err != nil {
				return fmt.Errorf("%w: TOKEN_ENCRYPTION_KEY: %w", ErrConfig, err)
			}
			return nil
		}))
	}
	if opts.Auth {
		g.Go(recovered(func() error {
			v, err := auth.NewFirebase(gctx, auth.FirebaseConfig{ProjectID: cfg.ProjectID, EmulatorHost: cfg.AuthEmulatorHost})
			if err != nil {
				return err
			}
			d.Auth = v
			return nil
		}))
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// The Firestore client must outlive ctx (a request's context): give it its own.
	fs, err := store.NewFirestore(context.WithoutCancel(ctx), cfg.ProjectID, cfg.FirestoreEmulatorHost)
	if err != nil {
		return nil, err
	}
	d.Store, d.Keyring, d.AppSecret = store.New(fs, keyring), keyring, appSecret
	built := false
	defer func() {
		if !built { // an error, or a panic
			_ = d.Close()
		}
	}()
	if opts.Needs.Tasks {
		// The client connects lazily: building it costs no round trip.
		if d.Tasks, err = tasks.NewEnqueuer(context.WithoutCancel(ctx), cfg.Tasks, opts.CloudTasks...); err != nil {
			return nil, err
		}
		d.TaskVerifier = tasks.NewVerifier(cfg.Tasks.TargetURL, cfg.Tasks.ServiceAccount, cfg.Tasks.JWKSURL(), nil)
	}
	if opts.Needs.Scheduler {
		// Scheduler's tokens are signed by the same keys as Cloud Tasks' (the stand-in's locally).
		d.SchedulerVerifier = tasks.NewVerifier(cfg.SchedulerAudience, cfg.SchedulerServiceAccount, cfg.Tasks.JWKSURL(), nil)
	}
	if opts.Needs.OAuthCallback || opts.Needs.Graph {
		d.Threads = &threads.Client{
			AppID:       cfg.ThreadsAppID,
			AppSecret:   appSecret,
			RedirectURI: cfg.RedirectURI,
			GraphURL:    cfg.GraphURL,
		}
	}
	built = true
	return d, nil
}

// recovered returns f, a panic in which is returned as its error, with its
// stack: startInstance recovers the panics of its own goroutine, but one in
// an errgroup goroutine would end the process.
func recovered(f func() error) func() error {
	return func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = panicError(p)
			}
		}()
		return f()
	}
}

// panicError is a recovered panic as an error, with the stack of the
// goroutine that recovered it (called in its deferred function).
func panicError(p any) error {
	return fmt.Errorf("panic: %v\n%s", p, debug.Stack())
}

// ErrConfig marks configuration problems: they do not go away by retrying.
var ErrConfig = errors.New("invalid configuration")

// Lazy returns the function's entry point. The first request builds the
// Deps and the handler; later requests reuse them. A configuration problem
// is logged once and answered with 500 "misconfigured" from then on; any
// other failure (say, Secret Manager unreachable) answers 503 and is retried
// by the next request. Both answers carry CORS headers for a browser origin
// the configuration allows, CORS_ALLOWED_ORIGINS being read alone when the
// rest does not load (see startFailure).
//
// Requests that arrive while a start is under way share it: one start at a
// time, whose outcome each of them gets, each waiting no longer than its
// own context allows (503 then). The start itself is not ended by the
// request that began it going away (its steps have their own bounds).
func Lazy(name string, opts Options, newHandler func(*Deps) (http.Handler, error)) http.HandlerFunc {
	log := opts.Logger
	if log == nil {
		log = logging.New(os.Stderr, slog.LevelInfo)
	}
	var (
		mu      sync.Mutex
		cfg     *config.Config // once loaded
		handler http.Handler
		cfgErr  error
		// corsOnly is the CORS policy of a configuration that did not
		// load (config.CORSOnly), for startFailure.
		corsOnly func(string) bool
		// starting is the start under way, if any.
		starting *startCall
	)
	// allow is the CORS policy startFailure answers by; called with mu held.
	allow := func() func(string) bool {
		if cfg != nil {
			return cfg.CORSOriginAllowed
		}
		return corsOnly
	}
	// start loads the configuration (once) and builds the handler, then
	// records the outcome and ends call.
	start := func(ctx context.Context, call *startCall) {
		mu.Lock()
		c := cfg
		mu.Unlock()
		c, h, err := startInstance(ctx, opts, c, newHandler)
		mu.Lock()
		defer mu.Unlock()
		if c != nil {
			cfg = c
		}
		if err != nil {
			msg := strings.ReplaceAll(err.Error(), "\n", "; ")
			log.Error(name+": cannot start: "+msg, "function", name)
			if errors.Is(err, ErrConfig) {
				cfgErr = err
				if cfg == nil {
					corsOnly = config.CORSOnly(lookupOf(opts))
				}
			}
		} else {
			handler = h
		}
		call.err, starting = err, nil
		close(call.done)
	}
	get := func(ctx context.Context) (http.Handler, func(string) bool, error) {
		mu.Lock()
		if h := handler; h != nil { // every request once started: no CORS policy to hand back
			mu.Unlock()
			return h, nil, nil
		}
		if cfgErr != nil {
			defer mu.Unlock()
			return nil, allow(), cfgErr
		}
		call := starting
		if call == nil {
			call = &startCall{done: make(chan struct{})}
			starting = call
			go start(context.WithoutCancel(ctx), call)
		}
		mu.Unlock()
		var err error
		select {
		case <-call.done:
			err = call.err
		case <-ctx.Done():
			err = fmt.Errorf("waiting for the instance to start: %w", ctx.Err())
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			return nil, allow(), err
		}
		return handler, nil, nil
	}
	return func(w http.ResponseWriter, r *http.Request) {
		h, allow, err := get(r.Context())
		if err != nil {
			startFailure(w, r, allow, err)
			return
		}
		h.ServeHTTP(w, r)
	}
}

// startInstance loads the configuration, unless loaded is the one already
// loaded, and builds the handler; it returns the configuration once loaded,
// whatever happens next. A panic is an error, with its stack (as a
// request's would be logged); a failed start closes the clients it made,
// since the next request starts again.
func startInstance(ctx context.Context, opts Options, loaded *config.Config, newHandler func(*Deps) (http.Handler, error)) (cfg *config.Config, h http.Handler, err error) {
	cfg = loaded
	var d *Deps
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
		}
		if err != nil && d != nil {
			_ = d.Close()
		}
	}()
	if cfg == nil {
		if cfg, err = loadConfig(opts); err != nil {
			return nil, nil, err
		}
	}
	if d, err = build(ctx, opts, cfg); err != nil {
		return cfg, nil, err
	}
	h, err = newHandler(d)
	return cfg, h, err
}

// startCall is one start of an instance, shared by the requests waiting
// for it: done is closed once err, its outcome, is set.
type startCall struct {
	done chan struct{}
	err  error
}

// startFailure answers a request that an instance which could not start
// cannot serve: 500 misconfigured or 503 unavailable (the cause was logged;
// the caller gets no details). When the request comes from a browser
// origin that allow (the configuration's CORS policy, or CORS_ALLOWED_ORIGINS
// read alone when the rest did not load; nil allows none) allows, the
// answer carries CORS headers, so that a web app can read it and try again
// or report the misconfiguration rather than see a network error; a CORS
// preflight from such an origin is allowed as asked (not cached), so that
// the request that follows gets the readable answer.
func startFailure(w http.ResponseWriter, r *http.Request, allow func(string) bool, err error) {
	code, status, msg := httpx.CodeServiceUnavailable, http.StatusServiceUnavailable, "the function is starting up; try again"
	if errors.Is(err, ErrConfig) {
		code, status, msg = httpx.CodeMisconfigured, http.StatusInternalServerError, "the function is misconfigured; see its logs"
	}
	if _, allowed := httpx.CORSOrigin(w, r, allow); allowed {
		if m := r.Header.Get("Access-Control-Request-Method"); r.Method == http.MethodOptions && m != "" {
			w.Header().Set("Access-Control-Allow-Methods", m)
			if hs := r.Header.Get("Access-Control-Request-Headers"); hs != "" {
				w.Header().Set("Access-Control-Allow-Headers", hs)
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	httpx.WriteJSON(w, status, httpx.ErrorBody{Error: httpx.ErrorDetail{Code: code, Message: msg}})
}
