package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"threadsfunctions.dev/shared/logging"
)

type payload struct {
	Name string `json:"name"`
}

func route(logs io.Writer) Route {
	return Route{
		Methods:      []string{http.MethodPost},
		AllowOrigin:  func(o string) bool { return o == "https://app.example.com" },
		AllowHeaders: []string{"Authorization", "Content-Type"},
		Logger:       logging.New(logs, slog.LevelInfo),
		ProjectID:    "demo-p",
	}
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) ErrorDetail {
	t.Helper()
	var body ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body is not JSON: %q", rec.Body.String())
	}
	if body.OK {
		t.Errorf("error body has ok=true")
	}
	return body.Error
}

func TestRoute(t *testing.T) {
	echo := func(w http.ResponseWriter, r *http.Request) error {
		var p payload
		if err := DecodeJSON(r, &p, 64, false); err != nil {
			return err
		}
		switch p.Name {
		case "panic":
			panic("boom")
		case "plain":
			return errors.New("database exploded: secret detail")
		case "coded":
			return Errorf(http.StatusConflict, "already_done", "it is done")
		}
		WriteJSON(w, http.StatusOK, map[string]any{"ok": true, "name": p.Name})
		return nil
	}
	cases := []struct {
		name       string
		method     string
		origin     string
		ctype      string
		body       string
		wantStatus int
		wantCode   string
		check      func(t *testing.T, rec *httptest.ResponseRecorder)
	}{
		{name: "ok", method: "POST", body: `{"name":"a"}`, wantStatus: 200},
		{name: "wrong method", method: "GET", wantStatus: 405, wantCode: CodeMethodNotAllowed,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if got := rec.Header().Get("Allow"); got != "POST, OPTIONS" {
					t.Errorf("Allow = %q", got)
				}
			}},
		{name: "preflight allowed", method: "OPTIONS", origin: "https://app.example.com", wantStatus: 204,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				h := rec.Header()
				if h.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
					h.Get("Access-Control-Allow-Methods") != "POST, OPTIONS" ||
					h.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type" {
					t.Errorf("CORS headers = %v", h)
				}
			}},
		{name: "preflight refused", method: "OPTIONS", origin: "https://evil.example.net", wantStatus: 403, wantCode: CodeOriginNotAllowed,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if rec.Header().Get("Access-Control-Allow-Origin") != "" {
					t.Error("refused origin got an Allow-Origin header")
				}
			}},
		{name: "simple request from refused origin", method: "POST", origin: "https://evil.example.net", body: `{"name":"a"}`, wantStatus: 403, wantCode: CodeOriginNotAllowed},
		{name: "allowed origin gets header", method: "POST", origin: "https://app.example.com", body: `{"name":"a"}`, wantStatus: 200,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if rec.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" {
					t.Error("missing Allow-Origin")
				}
				// 429 and 503 say when to try again: the page must be able to read it.
				if rec.Header().Get("Access-Control-Expose-Headers") != "Retry-After" {
					t.Errorf("Access-Control-Expose-Headers = %q, want Retry-After", rec.Header().Get("Access-Control-Expose-Headers"))
				}
			}},
		{name: "empty body refused", method: "POST", wantStatus: 400, wantCode: CodeInvalidJSON},
		{name: "syntax error", method: "POST", body: `{"name":`, wantStatus: 400, wantCode: CodeInvalidJSON},
		{name: "unknown field", method: "POST", body: `{"nom":"a"}`, wantStatus: 400, wantCode: CodeUnknownField,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if !strings.Contains(rec.Body.String(), "nom") {
					t.Errorf("message does not name the field: %s", rec.Body.String())
				}
			}},
		{name: "wrong type", method: "POST", body: `{"name":3}`, wantStatus: 400, wantCode: CodeInvalidJSON},
		{name: "two values", method: "POST", body: `{"name":"a"}{}`, wantStatus: 400, wantCode: CodeInvalidJSON},
		{name: "stray closing brace", method: "POST", body: `{"name":"a"}}`, wantStatus: 400, wantCode: CodeInvalidJSON},
		{name: "stray closing bracket", method: "POST", body: `{"name":"a"}]`, wantStatus: 400, wantCode: CodeInvalidJSON},
		{name: "trailing white space", method: "POST", body: "{\"name\":\"a\"} \n\t", wantStatus: 200},
		{name: "too large", method: "POST", body: `{"name":"` + strings.Repeat("x", 100) + `"}`, wantStatus: 413, wantCode: CodeBodyTooLarge},
		{name: "wrong content type", method: "POST", ctype: "text/plain", body: `{"name":"a"}`, wantStatus: 415, wantCode: CodeUnsupportedMedia},
		{name: "panic", method: "POST", body: `{"name":"panic"}`, wantStatus: 500, wantCode: CodeInternal},
		{name: "plain error hides details", method: "POST", body: `{"name":"plain"}`, wantStatus: 500, wantCode: CodeInternal,
			check: func(t *testing.T, rec *httptest.ResponseRecorder) {
				if strings.Contains(rec.Body.String(), "secret detail") {
					t.Error("internal detail leaked to the caller")
				}
			}},
		{name: "coded error", method: "POST", body: `{"name":"coded"}`, wantStatus: 409, wantCode: "already_done"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := route(&logs).Handler(echo)
			req := httptest.NewRequest(tc.method, "/", strings.NewReader(tc.body))
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body.String())
			}
			if tc.wantCode != "" {
				if got := decodeError(t, rec); got.Code != tc.wantCode || got.Message == "" {
					t.Errorf("error = %+v, want code %q", got, tc.wantCode)
				}
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("Content-Type = %q", ct)
				}
			}
			if tc.check != nil {
				tc.check(t, rec)
			}
		})
	}
}

func TestInternalErrorsAreLoggedWithTrace(t *testing.T) {
	var logs bytes.Buffer
	h := route(&logs).Handler(func(w http.ResponseWriter, r *http.Request) error {
		return errors.New("firestore unavailable")
	})
	req := httptest.NewRequest("POST", "/", nil)
	req.Header.Set("X-Cloud-Trace-Context", "105445aa7843bc8bf206b12000100000/1;o=1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	var line map[string]any
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil {
		t.Fatalf("log is not one JSON line: %q", logs.String())
	}
	if line["severity"] != "ERROR" || line["error"] != "firestore unavailable" ||
		line[logging.TraceKey] != "projects/demo-p/traces/105445aa7843bc8bf206b12000100000" {
		t.Errorf("log line = %v", line)
	}
}
