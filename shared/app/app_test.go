package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/config"
	"threadsfunctions.dev/shared/fakes/secretmanagerfake"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/tokencrypt"
)

const (
	appSecretName = "projects/demo-p/secrets/threads-app-secret"
	keyName       = "projects/demo-p/secrets/token-key"
)

// teapot stands for a function's handler: its answer (418) shows the
// request got through.
var teapot = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })

func callbackEnv() map[string]string {
	return map[string]string{
		"GOOGLE_CLOUD_PROJECT":      "demo-p",
		"FIRESTORE_EMULATOR_HOST":   "127.0.0.1:1", // never dialled: clients connect lazily
		"THREADS_APP_ID":            "123",
		"THREADS_APP_SECRET_NAME":   appSecretName + "/versions/latest",
		"THREADS_REDIRECT_URI":      "https://fn.example.com/thAuthCallback",
		"ALLOWED_RETURN_ORIGINS":    "https://app.example.com",
		"DEFAULT_RETURN_TO":         "https://app.example.com/",
		"TOKEN_ENCRYPTION_KEY_NAME": keyName + "/versions/1",
	}
}

// Secrets named in the configuration are read from Secret Manager through
// the real client, once per instance however many requests follow.
func TestSecretsComeFromSecretManagerOncePerInstance(t *testing.T) {
	sm := secretmanagerfake.Start(t)
	keyText, err := tokencrypt.GenerateKeyText("k7")
	if err != nil {
		t.Fatal(err)
	}
	sm.AddVersion(appSecretName, []byte("the-app-secret\n"))
	sm.AddVersion(keyName, []byte(keyText))

	var built *app.Deps
	opts := app.Options{
		Needs:         config.Needs{OAuthCallback: true, Tokens: true},
		Lookup:        config.MapLookuper(callbackEnv()),
		Logger:        logging.New(&bytes.Buffer{}, slog.LevelInfo),
		SecretManager: sm.ClientOptions(),
	}
	h := app.Lazy("thTest", opts, func(d *app.Deps) (http.Handler, error) {
		built = d
		return teapot, nil
	})
	for range 3 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusTeapot {
			t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
	if built.Threads.AppSecret != "the-app-secret" {
		t.Errorf("app secret = %q (trailing newline must be trimmed)", built.Threads.AppSecret)
	}
	if built.Keyring.ActiveKeyID() != "k7" {
		t.Errorf("keyring active id = %q", built.Keyring.ActiveKeyID())
	}
	for _, name := range []string{appSecretName + "/versions/latest", keyName + "/versions/1"} {
		if n := sm.AccessCount(name); n != 1 {
			t.Errorf("%s read %d times, want 1", name, n)
		}
	}
}

// A Secret Manager failure is not permanent: the instance answers 503 and
// the next request tries again.
func TestTransientStartupFailureIsRetried(t *testing.T) {
	sm := secretmanagerfake.Start(t)
	keyText, _ := tokencrypt.GenerateKeyText("k1")
	sm.AddVersion(keyName, []byte(keyText)) // the app secret is missing at first
	var logs bytes.Buffer
	opts := app.Options{
		Needs:         config.Needs{OAuthCallback: true, Tokens: true},
		Lookup:        config.MapLookuper(callbackEnv()),
		Logger:        logging.New(&logs, slog.LevelInfo),
		SecretManager: sm.ClientOptions(),
	}
	h := app.Lazy("thTest", opts, func(d *app.Deps) (http.Handler, error) {
		return teapot, nil
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"unavailable"`) {
		t.Fatalf("first answer %d %s, want 503 unavailable", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), appSecretName) {
		t.Errorf("the log does not name the missing secret: %s", logs.String())
	}
	sm.AddVersion(appSecretName, []byte("s"))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("second answer %d %s, want the handler's", rec.Code, rec.Body.String())
	}
}

// A panic while an instance starts, in one of the steps it takes
// concurrently (here the Secret Manager client's call), is that start's
// failure, logged with its stack: the request is answered 503 and the next
// one starts again. It must not end the process.
func TestPanicInAStartStepIsAFailedStart(t *testing.T) {
	sm := secretmanagerfake.Start(t)
	keyText, _ := tokencrypt.GenerateKeyText("k1")
	sm.AddVersion(keyName, []byte(keyText))
	sm.AddVersion(appSecretName, []byte("s"))
	var calls atomic.Int32
	explode := grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if calls.Add(1) == 1 {
			panic("secret read exploded")
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	})
	var logs bytes.Buffer
	opts := app.Options{
		Needs:         config.Needs{OAuthCallback: true, Tokens: true},
		Lookup:        config.MapLookuper(callbackEnv()),
		Logger:        logging.New(&logs, slog.LevelInfo),
		SecretManager: append(sm.ClientOptions(), option.WithGRPCDialOption(explode)),
	}
	h := app.Lazy("thTest", opts, func(d *app.Deps) (http.Handler, error) { return teapot, nil })
	for i, want := range []int{http.StatusServiceUnavailable, http.StatusTeapot} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != want {
			t.Fatalf("answer %d: %d %s, want %d", i+1, rec.Code, rec.Body.String(), want)
		}
	}
	if !strings.Contains(logs.String(), "panic: secret read exploded") || !strings.Contains(logs.String(), "app_test.go") {
		t.Errorf("the panic is not logged with its stack: %s", logs.String())
	}
}

// An app secret that is empty once its trailing newline is trimmed (a
// variable left unset when the version was added) is a configuration
// problem: with it, anyone could sign Meta's callbacks.
func TestEmptyAppSecretIsMisconfiguration(t *testing.T) {
	for _, version := range []string{"\n", "\r\n", "  \n"} {
		sm := secretmanagerfake.Start(t)
		keyText, _ := tokencrypt.GenerateKeyText("k1")
		sm.AddVersion(appSecretName, []byte(version))
		sm.AddVersion(keyName, []byte(keyText))
		_, err := app.Build(context.Background(), app.Options{
			Needs:         config.Needs{OAuthCallback: true, Tokens: true},
			Lookup:        config.MapLookuper(callbackEnv()),
			SecretManager: sm.ClientOptions(),
		})
		if !errors.Is(err, app.ErrConfig) || !strings.Contains(err.Error(), "THREADS_APP_SECRET is empty") {
			t.Errorf("Build with app secret version %q = %v, want an empty THREADS_APP_SECRET problem", version, err)
		}
	}
}

// A keyring that does not parse is a configuration problem: 500, not retried.
func TestBadKeyringIsMisconfiguration(t *testing.T) {
	env := callbackEnv()
	delete(env, "TOKEN_ENCRYPTION_KEY_NAME")
	delete(env, "THREADS_APP_SECRET_NAME")
	env["THREADS_APP_SECRET"] = "s"
	env["TOKEN_ENCRYPTION_KEY"] = "k1:c2hvcnQ="
	_, err := app.Build(context.Background(), app.Options{Needs: config.Needs{OAuthCallback: true, Tokens: true}, Lookup: config.MapLookuper(env)})
	if !errors.Is(err, app.ErrConfig) || !strings.Contains(err.Error(), "TOKEN_ENCRYPTION_KEY") {
		t.Fatalf("Build = %v, want a TOKEN_ENCRYPTION_KEY problem", err)
	}
	if strings.Contains(err.Error(), "c2hvcnQ") {
		t.Error("error shows key material")
	}
}

// A start-up that fails after the Firestore client was made closes it:
// Lazy builds again on the next request, and must not leave a client (its
// connections and goroutines) behind on every try. The client dials the
// emulator host at once; the listener sees its connection closed (or none,
// when the client was closed before it dialled).
func TestFailedStartClosesItsClients(t *testing.T) {
	tests := []struct {
		name string
		// tasksOpts make the Cloud Tasks client fail (after Firestore's).
		tasksOpts []option.ClientOption
		// buildErr makes the function's handler fail; panics, panic.
		buildErr error
		panics   bool
	}{
		{name: "cloud tasks client refused", tasksOpts: []option.ClientOption{option.WithCredentialsJSON([]byte(`{}`))}},
		{name: "handler not built", buildErr: errors.New("handler refused")},
		{name: "handler panics", panics: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ln.Close() })
			// Connections the clients opened and have not closed.
			var open, accepted atomic.Int32
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					accepted.Add(1)
					open.Add(1)
					go func() {
						defer func() { _ = c.Close() }()
						_, _ = io.Copy(io.Discard, c) // until the client closes it
						open.Add(-1)
					}()
				}
			}()
			t.Setenv("FIRESTORE_EMULATOR_HOST", ln.Addr().String())
			env := map[string]string{
				"GOOGLE_CLOUD_PROJECT":    "demo-p",
				"FIRESTORE_EMULATOR_HOST": ln.Addr().String(),
				"TASKS_QUEUE":             "projects/demo-p/locations/us-central1/queues/q",
				"TASKS_TARGET_URL":        "http://127.0.0.1:1/thTest",
				"TASKS_SERVICE_ACCOUNT":   "tasks@demo-p.iam.gserviceaccount.com",
				"TASKS_EMULATOR_HOST":     "127.0.0.1:1",
			}
			var logs bytes.Buffer
			opts := app.Options{
				Needs:      config.Needs{Tasks: true},
				Lookup:     config.MapLookuper(env),
				Logger:     logging.New(&logs, slog.LevelInfo),
				CloudTasks: tc.tasksOpts,
			}
			builds := 0
			h := app.Lazy("thTest", opts, func(d *app.Deps) (http.Handler, error) {
				builds++
				if tc.panics {
					panic("handler exploded")
				}
				return http.NotFoundHandler(), tc.buildErr
			})
			for i := range 2 {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				if rec.Code != http.StatusServiceUnavailable {
					t.Fatalf("answer %d: %d %s, want 503", i+1, rec.Code, rec.Body.String())
				}
			}
			if (tc.buildErr != nil || tc.panics) && builds != 2 {
				t.Errorf("handler built %d times, want 2 (a failed start is retried)", builds)
			}
			if tc.panics && (!strings.Contains(logs.String(), "panic: handler exploded") || !strings.Contains(logs.String(), "app_test.go")) {
				t.Errorf("the panic is not logged with its stack: %s", logs.String())
			}
			// A client left open connects within this (over loopback) and
			// stays; one closed before it dialled leaves nothing to see.
			time.Sleep(500 * time.Millisecond)
			deadline := time.Now().Add(10 * time.Second)
			for open.Load() != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%d of the %d connections of the failed starts' clients are still open; logs: %s", open.Load(), accepted.Load(), logs.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("%d connections opened, all closed", accepted.Load())
		})
	}
}

// An instance that cannot start answers browsers it allows in a way they
// can read (CORS headers), and lets their preflights through, so that a web
// app sees "try again" (or "misconfigured") instead of a network error.
// An instance whose configuration did not load reads CORS_ALLOWED_ORIGINS
// alone for this. Origins it does not allow get no CORS headers, nor does
// anyone when CORS_ALLOWED_ORIGINS is itself what is wrong.
func TestStartFailureAnswersAllowedBrowsers(t *testing.T) {
	const app1, other = "https://app.example.com", "https://evil.example.com"
	sm := secretmanagerfake.Start(t) // no secrets: every start fails (503)
	env := callbackEnv()
	env["CORS_ALLOWED_ORIGINS"] = app1
	badEnv := callbackEnv()
	badEnv["THREADS_REDIRECT_URI"] = "not a url" // 500: the configuration does not load
	badEnv["CORS_ALLOWED_ORIGINS"] = app1
	badCORS := callbackEnv()
	badCORS["CORS_ALLOWED_ORIGINS"] = app1 + "/path" // not an origin: 500, and no policy to answer by
	preflight := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
	tests := []startFailureCase{
		{"allowed origin", env, "POST", app1, nil, 503, "unavailable", app1},
		{"allowed origin's preflight", env, "OPTIONS", app1, preflight, 204, "", app1},
		{"other origin", env, "POST", other, nil, 503, "unavailable", ""},
		{"other origin's preflight", env, "OPTIONS", other, preflight, 503, "unavailable", ""},
		{"no origin (not a browser)", env, "POST", "", nil, 503, "unavailable", ""},
		{"configuration not loaded", badEnv, "POST", app1, nil, 500, "misconfigured", app1},
		{"configuration not loaded: preflight", badEnv, "OPTIONS", app1, preflight, 204, "", app1},
		{"configuration not loaded: other origin", badEnv, "POST", other, nil, 500, "misconfigured", ""},
		{"CORS_ALLOWED_ORIGINS invalid", badCORS, "POST", app1, nil, 500, "misconfigured", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := app.Lazy("thTest", app.Options{
				Needs:         config.Needs{OAuthCallback: true, Tokens: true},
				Lookup:        config.MapLookuper(tc.env),
				Logger:        logging.New(&bytes.Buffer{}, slog.LevelInfo),
				SecretManager: sm.ClientOptions(),
			}, func(d *app.Deps) (http.Handler, error) {
				t.Fatal("the handler was built without its secrets")
				return nil, nil
			})
			// Twice: the second request finds the failure the first left
			// (a misconfiguration is not tried again).
			for range 2 {
				checkStartFailure(t, h, tc)
			}
		})
	}
}

type startFailureCase struct {
	name       string
	env        map[string]string
	method     string
	origin     string
	header     map[string]string
	wantStatus int
	wantCode   string // "" for a preflight's empty answer
	wantAllow  string // Access-Control-Allow-Origin
}

func checkStartFailure(t *testing.T, h http.Handler, tc startFailureCase) {
	t.Helper()
	req := httptest.NewRequest(tc.method, "/", nil)
	if tc.origin != "" {
		req.Header.Set("Origin", tc.origin)
	}
	for k, v := range tc.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != tc.wantStatus {
		t.Fatalf("status %d %s, want %d", rec.Code, rec.Body.String(), tc.wantStatus)
	}
	if tc.wantCode != "" && !strings.Contains(rec.Body.String(), `"code":"`+tc.wantCode+`"`) {
		t.Errorf("body %s, want code %s", rec.Body.String(), tc.wantCode)
	}
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != tc.wantAllow {
		t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tc.wantAllow)
	}
	if tc.wantStatus == 204 {
		if got := rec.Header().Get("Access-Control-Allow-Methods"); got != "POST" {
			t.Errorf("Access-Control-Allow-Methods %q, want POST", got)
		}
		if got := rec.Header().Get("Access-Control-Allow-Headers"); got != "authorization,content-type" {
			t.Errorf("Access-Control-Allow-Headers %q", got)
		}
		if rec.Header().Get("Access-Control-Max-Age") != "" {
			t.Error("a preflight allowed during a failed start is cached")
		}
	}
}

// Requests that arrive during a start share it: one start, whose outcome
// each gets (a failed one is tried again by the next request), and a
// request whose context ends first is answered 503 at once instead of
// waiting for it.
func TestConcurrentRequestsShareOneStart(t *testing.T) {
	env := map[string]string{"GOOGLE_CLOUD_PROJECT": "demo-p", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:1"} // never dialled
	var (
		builds  atomic.Int32
		release = make(chan error)
	)
	h := app.Lazy("thTest", app.Options{Lookup: config.MapLookuper(env), Logger: logging.New(io.Discard, slog.LevelInfo)},
		func(d *app.Deps) (http.Handler, error) {
			builds.Add(1)
			if err := <-release; err != nil {
				return nil, err
			}
			return teapot, nil
		})

	// Five requests wait on one start, which fails: each gets 503.
	var codes []<-chan int
	waiting := make(chan struct{}, 5)
	for range 5 {
		codes = append(codes, serveAsync(&waitingContext{Context: t.Context(), waiting: waiting}, h))
	}
	for i := range 5 {
		await(t, waiting, fmt.Sprintf("request %d of 5 waiting for the start", i+1))
	}
	// One that gives up (its context ends) is answered while the start goes on.
	ctx, cancel := context.WithCancel(t.Context())
	gaveUp := serveAsync(ctx, h)
	cancel()
	if code := answerWithin(t, gaveUp, "a request whose context ended"); code != http.StatusServiceUnavailable {
		t.Errorf("a request whose context ended: %d, want 503", code)
	}
	send(t, release, errors.New("not yet"))
	for i, c := range codes {
		if code := answerWithin(t, c, "a waiting request"); code != http.StatusServiceUnavailable {
			t.Errorf("request %d: %d, want 503", i, code)
		}
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("%d starts for 5 concurrent requests, want 1", n)
	}

	// The next request starts again, and succeeds.
	next := serveAsync(t.Context(), h)
	send(t, release, nil)
	if code := answerWithin(t, next, "the request after a failed start"); code != http.StatusTeapot {
		t.Errorf("after a failed start: %d, want the handler's", code)
	}
	if n := builds.Load(); n != 2 {
		t.Errorf("%d starts in all, want 2", n)
	}
}

// serveAsync serves a GET with ctx in the background; its status comes on
// the channel.
func serveAsync(ctx context.Context, h http.Handler) <-chan int {
	code := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, "GET", "/", nil))
		code <- rec.Code
	}()
	return code
}

// answerWithin is the status that comes on c, or fails the test after 10 s.
func answerWithin(t *testing.T, c <-chan int, what string) int {
	t.Helper()
	select {
	case code := <-c:
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer", what)
		return 0
	}
}

// await takes a signal from c, or fails the test after 10 s: what did not
// happen.
func await(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: did not happen", what)
	}
}

// send gives v to the start blocked on c, or fails the test when none
// takes it.
func send(t *testing.T, c chan<- error, v error) {
	t.Helper()
	select {
	case c <- v:
	case <-time.After(10 * time.Second):
		t.Fatal("no start is waiting to be released")
	}
}

// The start goes on when the request that began it goes away: the
// requests waiting for it get its handler. (Were the start given that
// request's context, its held Secret Manager read would end with it.)
func TestStartOutlivesTheRequestThatBeganIt(t *testing.T) {
	sm := secretmanagerfake.Start(t)
	sm.AddVersion(appSecretName, []byte("s"))
	entered := make(chan struct{}, 4)
	release := sm.HoldAccess(entered)
	t.Cleanup(release)
	env := map[string]string{"GOOGLE_CLOUD_PROJECT": "demo-p", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:1", // never dialled
		"THREADS_APP_SECRET_NAME": appSecretName + "/versions/latest"}
	h := app.Lazy("thTest", app.Options{Needs: config.Needs{AppSecret: true}, Lookup: config.MapLookuper(env),
		Logger: logging.New(io.Discard, slog.LevelInfo), SecretManager: sm.ClientOptions()},
		func(d *app.Deps) (http.Handler, error) {
			return teapot, nil
		})
	ctx, cancel := context.WithCancel(t.Context())
	starter := serveAsync(ctx, h)
	await(t, entered, "the start reading the secret")
	waiting := make(chan struct{}, 1)
	other := serveAsync(&waitingContext{Context: t.Context(), waiting: waiting}, h)
	await(t, waiting, "a second request waiting for the start")
	cancel()
	if code := answerWithin(t, starter, "the request that began the start, gone"); code != http.StatusServiceUnavailable {
		t.Errorf("the request that began the start, gone: %d, want 503", code)
	}
	// Time for a cancelled read to end the start, if it could.
	time.Sleep(200 * time.Millisecond)
	release()
	if code := answerWithin(t, other, "the request waiting"); code != http.StatusTeapot {
		t.Errorf("the request waiting: %d, want the handler's", code)
	}
}

// waitingContext tells on waiting when a request starts waiting on it
// (the first call of Done).
type waitingContext struct {
	context.Context
	waiting chan<- struct{}
	once    sync.Once
}

func (c *waitingContext) Done() <-chan struct{} {
	c.once.Do(func() { c.waiting <- struct{}{} })
	return c.Context.Done()
}
