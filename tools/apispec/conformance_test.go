package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"threadsfunctions.dev/functions/thdisconnect"
	"threadsfunctions.dev/functions/thpublish"
	"threadsfunctions.dev/functions/threfresh"
	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/fakes/cloudtasksfake"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/testenv/apicheck"
)

// The functions' own tests exercise most of the spec's operations; these
// exercise the ones they leave out (CORS preflights of thPublish and
// thDisconnect, thRefresh's GET), as deployed (app.Lazy, the real wiring)
// and through apicheck, so the coverage check holds every operation to an
// exchange with the code.

const appOrigin = "https://app.example.com"

// serve runs a function's handler, checked against the spec, on a
// listener of its own; it returns the function's URL.
func serve(t *testing.T, name string, h http.Handler, lis net.Listener) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(apicheck.Handler(t, name, h))
	srv.Listener.Close()
	srv.Listener = lis
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

func send(t *testing.T, method, url string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp
}

func TestPreflights(t *testing.T) {
	e := testenv.Require(t)
	tasks := cloudtasksfake.Start(t)
	_, keyText := testenv.Keyring(t, "k1")
	quiet := logging.New(io.Discard, slog.LevelInfo)

	pubLis := listen(t)
	pubURL := "http://" + pubLis.Addr().String() + "/"
	pubOpts := thpublish.Options
	pubOpts.Lookup = e.Lookup(map[string]string{
		"TOKEN_ENCRYPTION_KEY":  keyText,
		"CORS_ALLOWED_ORIGINS":  appOrigin,
		"TASKS_QUEUE":           "projects/" + e.ProjectID + "/locations/local/queues/publish",
		"TASKS_TARGET_URL":      pubURL,
		"TASKS_SERVICE_ACCOUNT": "tasks-invoker@" + e.ProjectID + ".iam.gserviceaccount.com",
		"TASKS_EMULATOR_HOST":   tasks.Addr(),
	})
	pubOpts.Logger = quiet
	publish := serve(t, thpublish.Name, app.Lazy(thpublish.Name, pubOpts, thpublish.NewHandler), pubLis)

	discOpts := thdisconnect.Options
	discOpts.Lookup = e.Lookup(map[string]string{"CORS_ALLOWED_ORIGINS": appOrigin})
	discOpts.Logger = quiet
	disconnect := serve(t, thdisconnect.Name, app.Lazy(thdisconnect.Name, discOpts, thdisconnect.NewHandler), listen(t))

	cases := []struct {
		name, url, origin, method string
		want                      int
		wantMethods               string
	}{
		{"thPublish: allowed origin", publish, appOrigin, "DELETE", http.StatusNoContent, "POST, DELETE, OPTIONS"},
		{"thPublish: other origin", publish, "https://evil.example.net", "POST", http.StatusForbidden, ""},
		{"thPublish: no origin", publish, "", "POST", http.StatusMethodNotAllowed, ""},
		{"thDisconnect: allowed origin", disconnect, appOrigin, "POST", http.StatusNoContent, "POST, OPTIONS"},
		{"thDisconnect: other origin", disconnect, "https://evil.example.net", "POST", http.StatusForbidden, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Access-Control-Request-Method": tc.method, "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"}
			if tc.origin != "" {
				h["Origin"] = tc.origin
			}
			resp := send(t, http.MethodOptions, tc.url, h)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if got := resp.Header.Get("Access-Control-Allow-Methods"); got != tc.wantMethods {
				t.Errorf("Access-Control-Allow-Methods = %q, want %q", got, tc.wantMethods)
			}
		})
	}
}

func TestRefreshByGET(t *testing.T) {
	e := testenv.Require(t)
	e.ProjectID = "demo-apispec-" + testenv.RandomID(t)[:8] // an empty project: the sweep touches nothing else
	issuer := cloudtasksfake.Start(t)
	_, keyText := testenv.Keyring(t, "k1")
	const invoker = "scheduler-invoker@demo-threadsfn.iam.gserviceaccount.com"
	lis := listen(t)
	url := "http://" + lis.Addr().String() + "/"
	opts := threfresh.Options
	opts.Lookup = e.Lookup(map[string]string{
		"THREADS_GRAPH_URL":         "http://127.0.0.1:1", // no account to refresh: never called
		"TOKEN_ENCRYPTION_KEY":      keyText,
		"SCHEDULER_SERVICE_ACCOUNT": invoker,
		"SCHEDULER_AUDIENCE":        url,
		"TASKS_EMULATOR_HOST":       issuer.Addr(),
	})
	opts.Logger = logging.New(io.Discard, slog.LevelInfo)
	serve(t, threfresh.Name, app.Lazy(threfresh.Name, opts, threfresh.NewHandler), lis)
	tok, err := issuer.IDToken(url, invoker)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, bearer string
		want         int
	}{
		{"scheduler", tok, http.StatusOK},
		{"no token", "", http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.bearer != "" {
				h["Authorization"] = "Bearer " + tc.bearer
			}
			if resp := send(t, http.MethodGet, url, h); resp.StatusCode != tc.want {
				t.Errorf("GET: status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}
