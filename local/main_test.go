package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/testenv/apicheck"
	"threadsfunctions.dev/shared/threads/threadstest"
)

const (
	appID       = "1234567890"
	appSecret   = "APP-SECRET-4f9a1c-never-logged"
	returnTo    = "http://localhost:5173/connected"
	defaultBack = "http://localhost:5173/"
)

// runner is the local runner binary serving all three functions.
type runner struct {
	base string
	logs *testenv.SyncBuffer
}

func startRunner(t *testing.T, env map[string]string) *runner {
	t.Helper()
	// Every exchange with the runner's functions is checked against api/openapi.yaml.
	noRedirect.Transport = apicheck.Transport(t, nil)
	t.Cleanup(func() { noRedirect.Transport = nil })
	bin := filepath.Join(t.TempDir(), "local")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	port := env["PORT"]
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	base := "http://127.0.0.1:" + port
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runner did not listen: %s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Something else may hold the port; a runner that could not listen exits.
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		t.Fatalf("runner exited (%v): %s", err, logs.String())
	case <-time.After(200 * time.Millisecond):
	}
	return &runner{base: base, logs: logs}
}

// runnerEnv is the runner's configuration on ports[0] against the emulators
// of e, the fake Threads at graphURL and the keyring keyText, with the Cloud
// Tasks stand-in on ports[1].
func runnerEnv(e testenv.Env, ports [2]string, graphURL, keyText string) map[string]string {
	port := ports[0]
	return map[string]string{
		"PORT":                        port,
		"THREADS_REDIRECT_URI":        "http://127.0.0.1:" + port + "/thAuthCallback",
		"GOOGLE_CLOUD_PROJECT":        e.ProjectID,
		"FIRESTORE_EMULATOR_HOST":     e.FirestoreHost,
		"FIREBASE_AUTH_EMULATOR_HOST": e.AuthHost,
		"THREADS_APP_ID":              appID,
		"THREADS_APP_SECRET":          appSecret,
		"THREADS_GRAPH_URL":           graphURL,
		"ALLOWED_RETURN_ORIGINS":      "http://localhost:5173",
		"DEFAULT_RETURN_TO":           defaultBack,
		"TOKEN_ENCRYPTION_KEY":        keyText,
		"TASKS_QUEUE":                 "projects/" + e.ProjectID + "/locations/local/queues/publish",
		"TASKS_TARGET_URL":            "http://127.0.0.1:" + port + "/thPublish",
		"TASKS_SERVICE_ACCOUNT":       "tasks-invoker@" + e.ProjectID + ".iam.gserviceaccount.com",
		"TASKS_EMULATOR_HOST":         "127.0.0.1:" + ports[1],
	}
}

// runnerPorts picks two free ports for the runner: its functions' and its
// Cloud Tasks stand-in's. Both listeners stay open until both are picked,
// so the two differ (two picks one after the other may return the same
// port: that made the runner fail to listen, and a test wait for nothing).
func runnerPorts(t *testing.T) [2]string {
	t.Helper()
	var ports [2]string
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

var noRedirect = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func post(t *testing.T, u, idToken, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+idToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1")
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s answered non-JSON %q", u, b)
	}
	return resp.StatusCode, out
}

// TestWholeFlowThroughLocalRunnerLeaksNothing runs the connect flow through
// the local runner binary (all three functions in one process, against the
// emulators and a fake Threads), then reads every log line it wrote and
// fails if any token, code, state or secret appears in them.
func TestWholeFlowThroughLocalRunnerLeaksNothing(t *testing.T) {
	e := testenv.Require(t)
	// The redirect URI is the runner's own callback, so its port is chosen first.
	ports := runnerPorts(t)
	redirectURI := "http://127.0.0.1:" + ports[0] + "/thAuthCallback"
	fake := threadstest.Start(t, appID, appSecret, redirectURI)
	_, keyText := testenv.Keyring(t, "k1")
	env := runnerEnv(e, ports, fake.URL, keyText)
	env["THREADS_AUTHORIZE_URL"] = fake.URL + "/oauth/authorize"
	env["CORS_ALLOWED_ORIGINS"] = "http://localhost:5173"
	// No sweep: it would read every job of the project other tests share.
	env["LOCAL_SWEEP_INTERVAL"] = "0"
	r := startRunner(t, env)
	user := e.SignUp(t)
	secrets := []string{appSecret, keyText, strings.SplitN(keyText, ":", 2)[1], user.IDToken}

	var states, codes []string
	connect := func(u threadstest.User, deny bool, wantQuery url.Values) {
		t.Helper()
		status, out := post(t, r.base+"/thAuthStart", user.IDToken, `{"returnTo":"`+returnTo+`"}`)
		if status != http.StatusOK || out["ok"] != true {
			t.Fatalf("thAuthStart: %d %v", status, out)
		}
		authURL, _ := url.Parse(out["url"].(string))
		state := authURL.Query().Get("state")
		states = append(states, state)
		q := url.Values{"state": {state}}
		if deny {
			q.Set("error", "access_denied")
			q.Set("error_reason", "user_denied")
		} else {
			code := fake.IssueCode(u)
			codes = append(codes, code)
			q.Set("code", code+"#_")
		}
		resp, err := noRedirect.Get(r.base + "/thAuthCallback?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc == nil || loc.Scheme+"://"+loc.Host+loc.Path != returnTo {
			t.Fatalf("callback: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		for k, v := range wantQuery {
			if loc.Query().Get(k) != v[0] {
				t.Errorf("callback redirect %s = %q, want %q", k, loc.Query().Get(k), v[0])
			}
		}
	}
	connect(threadstest.User{ID: "17841400000000001", Username: "ada", Name: "Ada"}, false,
		url.Values{"threads": {"connected"}, "accountId": {"17841400000000001"}})
	connect(threadstest.User{}, true, url.Values{"threads": {"error"}, "reason": {"access_denied"}})
	fake.Fail(threadstest.EndpointMe, threadstest.Failure{HTTPStatus: 400, Code: 190, Message: "Invalid OAuth access token."})
	connect(threadstest.User{ID: "17841400000000002", Username: "bob"}, false,
		url.Values{"threads": {"error"}, "reason": {"profile_failed"}})
	fake.Recover()

	// A reused state and thPublish's answer add their own log lines.
	resp, err := noRedirect.Get(r.base + "/thAuthCallback?" + url.Values{"state": {states[0]}, "code": {codes[0]}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("reused state: %d", resp.StatusCode)
	}
	if status, out := post(t, r.base+"/thPublish", user.IDToken, `{"text":"hello"}`); status != http.StatusOK || out["id"] == "" {
		t.Errorf("thPublish: %d %v", status, out)
	}
	if posts := fake.Published("17841400000000001"); len(posts) != 1 || posts[0].Text != "hello" {
		t.Errorf("published posts: %+v", posts)
	}

	logs := r.logs.String()
	secrets = append(secrets, states...)
	secrets = append(secrets, codes...)
	secrets = append(secrets, fake.Tokens()...)
	if len(fake.Tokens()) < 3 {
		t.Fatalf("the flow issued %d tokens; the leak check would prove little", len(fake.Tokens()))
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("logs contain a secret value (%d chars, starts %q)", len(s), s[:min(4, len(s))])
		}
	}
	// The logs are Cloud Logging JSON, traced, and say what happened.
	var connected, failed bool
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !strings.HasPrefix(line, "{") {
			continue // the Functions Framework's own start-up lines
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if m["severity"] == nil || m["message"] == nil {
			t.Errorf("log line lacks severity or message: %q", line)
		}
		switch m["message"] {
		case "oauth callback: account connected":
			connected = true
		case "oauth callback: connection failed":
			failed = m["threads"] != nil
		case "oauth started":
			if m["logging.googleapis.com/trace"] != "projects/"+e.ProjectID+"/traces/105445aa7843bc8bf206b12000100000" {
				t.Errorf("thAuthStart log line without the request's trace: %q", line)
			}
		}
	}
	if !connected || !failed {
		t.Errorf("expected log lines missing (connected %v, failure with Threads error %v):\n%s", connected, failed, logs)
	}
}

// TestLocalRunnerSweepsStuckJobs: the runner stands in for Cloud Scheduler's
// sweep job, so a job whose attempt died (its lease run out) is taken up and
// published locally too.
func TestLocalRunnerSweepsStuckJobs(t *testing.T) {
	e := testenv.Require(t)
	e.ProjectID = "demo-lsw-" + testenv.RandomID(t) // the sweep reads every job of its project
	ports := runnerPorts(t)
	fake := threadstest.Start(t, appID, appSecret, "http://127.0.0.1:"+ports[0]+"/thAuthCallback")
	keyring, keyText := testenv.Keyring(t, "k1")
	env := runnerEnv(e, ports, fake.URL, keyText)
	env["LOCAL_SWEEP_INTERVAL"] = "200ms"
	r := startRunner(t, env)

	ctx := t.Context()
	st := store.New(e.Firestore(t), keyring)
	uid, acct := "uid-"+testenv.RandomID(t), "17841400000000031"
	tok := fake.AddAccount(threadstest.User{ID: acct, Username: "stuck"})
	now := time.Now().UTC()
	if err := st.SaveAccount(ctx, uid, store.Account{AccountID: acct, TokenType: "bearer", ExpiresIn: 5184000,
		ExpiresAt: now.Add(60 * 24 * time.Hour), TokenIssuedAt: now, UpdatedAt: now, Status: store.StatusActive}, tok); err != nil {
		t.Fatal(err)
	}
	req := publish.Request{Text: "left behind by a dead instance"}
	body, _ := json.Marshal(req)
	job := &store.Job{JobID: "k" + testenv.RandomID(t) + testenv.RandomID(t), UID: uid, AccountID: acct, Status: store.JobAccepted,
		Kind: string(req.Kind()), Text: req.Text, Request: string(body), RequestHash: req.Hash(), Attempts: 1,
		LeaseOwner: "dead-instance", LeaseUntil: now.Add(-2 * time.Minute), CreatedAt: now.Add(-3 * time.Minute), UpdatedAt: now.Add(-3 * time.Minute)}
	if _, _, err := st.CreateJob(ctx, job); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := st.GetJob(ctx, uid, acct, job.JobID)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status == store.JobPublished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stuck job is still %s; runner logs:\n%s", j.Status, r.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if posts := fake.Published(acct); len(posts) != 1 || posts[0].Text != req.Text {
		t.Errorf("published posts: %+v", posts)
	}
	if !strings.Contains(r.logs.String(), `"component":"cloud-scheduler-stand-in"`) {
		t.Errorf("the sweep that found the job is not logged:\n%s", r.logs.String())
	}
}
