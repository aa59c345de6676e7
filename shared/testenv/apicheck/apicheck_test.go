package apicheck

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	jsonHeader := func(extra ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		return h
	}
	cases := []struct {
		name         string
		method, path string
		reqHeader    http.Header
		reqBody      string
		status       int
		header       http.Header
		body         string
		wantProblem  string // "" for none
	}{
		{name: "documented answer", method: "POST", path: "/thPublish", reqBody: `{"text":"hi"}`,
			status: 200, header: jsonHeader(), body: `{"ok":true,"id":"1","jobId":"k0123456789abcdef0123456789abcdef","status":"published"}`},
		{name: "malformed request, documented error", method: "POST", path: "/thPublish", reqBody: `{"text":`,
			status: 400, header: jsonHeader(), body: `{"ok":false,"error":{"code":"invalid_json","message":"x"}}`},
		{name: "undocumented status", method: "POST", path: "/thPublish", reqBody: `{"text":"hi"}`,
			status: 418, header: jsonHeader(), body: `{"ok":false,"error":{"code":"internal","message":"x"}}`, wantProblem: "not one the spec documents"},
		{name: "code not in the answer's enum", method: "POST", path: "/thDisconnect", reqBody: `{"accountId":"1"}`,
			status: 404, header: jsonHeader(), body: `{"ok":false,"error":{"code":"no_account","message":"x"}}`, wantProblem: "not one the spec documents"},
		{name: "body of another shape", method: "POST", path: "/thRefresh",
			status: 200, header: jsonHeader(), body: `{"ok":true,"examined":1}`, wantProblem: "not one the spec documents"},
		{name: "spec refuses the request, function accepts it", method: "POST", path: "/thPublish", reqBody: `{"text":"hi","imageUrl":"http://not-https.example/x.jpg"}`,
			status: 200, header: jsonHeader(), body: `{"ok":true,"id":"1","jobId":"k0123456789abcdef0123456789abcdef","status":"published"}`, wantProblem: "stricter than the code"},
		{name: "task acknowledged with an error body", method: "POST", path: "/thPublish", reqBody: `{"uid":1}`,
			status: 200, header: jsonHeader(), body: `{"ok":false,"error":{"code":"invalid_task","message":"x"}}`},
		{name: "redirect without Location", method: "GET", path: "/thAuthCallback",
			status: 302, header: http.Header{}, wantProblem: "Location"},
		{name: "redirect", method: "GET", path: "/thAuthCallback",
			status: 302, header: http.Header{"Location": {"https://app.example.com/?accountId=1&threads=connected"}}},
		{name: "HTML page", method: "GET", path: "/thDataDeletion",
			status: 404, header: http.Header{"Content-Type": {"text/html; charset=utf-8"}}, body: "<!doctype html><p>none</p>"},
		{name: "other method, right Allow", method: "PUT", path: "/thPublish",
			status: 405, header: jsonHeader("Allow", "POST, DELETE, OPTIONS"), body: `{"ok":false,"error":{"code":"method_not_allowed","message":"x"}}`},
		{name: "other method, wrong Allow", method: "GET", path: "/thPublish",
			status: 405, header: jsonHeader("Allow", "POST"), body: `{"ok":false,"error":{"code":"method_not_allowed","message":"x"}}`, wantProblem: "Allow"},
		{name: "other method, undocumented answer", method: "PATCH", path: "/thDeauthorize",
			status: 200, header: jsonHeader(), body: `{"ok":true}`, wantProblem: "other methods"},
		{name: "preflight lists other methods", method: "OPTIONS", path: "/thDisconnect",
			status: 204, header: http.Header{"Access-Control-Allow-Origin": {"https://app.example.com"}, "Access-Control-Allow-Methods": {"POST, GET, OPTIONS"},
				"Access-Control-Allow-Headers": {"Authorization, Content-Type, Idempotency-Key, X-Cloud-Trace-Context, traceparent"}, "Access-Control-Max-Age": {"3600"}},
			wantProblem: "Access-Control-Allow-Methods"},
		{name: "unknown path", method: "GET", path: "/thNothing", status: 404, header: http.Header{}, wantProblem: "no path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.reqBody))
			if tc.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			problems := Check(context.Background(), Exchange{Request: req, RequestBody: []byte(tc.reqBody), Status: tc.status, Header: tc.header, Body: []byte(tc.body)})
			t.Logf("problems: %v", problems)
			switch {
			case tc.wantProblem == "" && len(problems) > 0:
				t.Errorf("unexpected problems: %v", problems)
			case tc.wantProblem != "" && (len(problems) == 0 || !strings.Contains(problems[0].Error(), tc.wantProblem)):
				t.Errorf("problems %v, want one saying %q", problems, tc.wantProblem)
			}
		})
	}
}

// TestHandlerChecksAndRecords wraps a handler, sends it one exchange and
// expects it recorded in the coverage directory under the function's path.
func TestHandlerChecksAndRecords(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(CoverageEnv, dir)
	recMu.Lock()
	recFile, seen = "", map[string]bool{}
	recMu.Unlock()
	t.Cleanup(func() {
		recMu.Lock()
		recFile, seen = "", map[string]bool{}
		recMu.Unlock()
	})

	h := Handler(t, "thDisconnect", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	for range 2 { // recorded once
		resp, err := http.Post(srv.URL+"/any/path", "application/json", strings.NewReader(`{"accountId":"17841400000000001"}`))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.tsv"))
	if len(files) != 1 {
		t.Fatalf("coverage files %q, want one", files)
	}
	b, _ := os.ReadFile(files[0])
	if string(b) != "POST\t/thDisconnect\t200\n" {
		t.Errorf("coverage file holds %q", b)
	}
}

// TestTransportChecksSpecPathsOnly: a client's exchanges with a spec path
// are checked; others pass untouched.
func TestTransportChecksSpecPathsOnly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	client := &http.Client{Transport: Transport(t, nil)}
	for _, p := range []string{"/elsewhere", "/thDeauthorize"} {
		resp, err := client.PostForm(srv.URL+p, map[string][]string{"signed_request": {"a.b"}})
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
}
