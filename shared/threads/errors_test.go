package threads

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
)

func TestAPIErrorError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  APIError
		want string
	}{
		{
			name: "all fields",
			err: APIError{HTTPStatus: 400, Message: "Session has expired.", Type: "OAuthException",
				Code: 190, Subcode: 460, FBTraceID: "ABC"},
			want: "threads: HTTP 400: code 190 subcode 460 (OAuthException): Session has expired. [fbtrace_id ABC]",
		},
		{
			name: "no subcode",
			err:  APIError{HTTPStatus: 400, Message: "Invalid parameter", Type: "THApiException", Code: 100, FBTraceID: "X"},
			want: "threads: HTTP 400: code 100 (THApiException): Invalid parameter [fbtrace_id X]",
		},
		{
			name: "no type, no trace",
			err:  APIError{HTTPStatus: 500, Message: "boom", Code: 2},
			want: "threads: HTTP 500: code 2: boom",
		},
		{
			name: "type only",
			err:  APIError{HTTPStatus: 400, Message: "odd", Type: "OAuthException"},
			want: "threads: HTTP 400: (OAuthException): odd",
		},
		{
			name: "unexpected response",
			err:  APIError{HTTPStatus: 502, Message: "unexpected response"},
			want: "threads: HTTP 502: unexpected response",
		},
		{
			name: "no message",
			err:  APIError{HTTPStatus: 400, Code: 1},
			want: "threads: HTTP 400: code 1: no message",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAPIErrorPredicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err          APIError
		temporary    bool
		tokenInvalid bool
		rateLimited  bool
	}{
		{err: APIError{HTTPStatus: 400, Code: 190}, tokenInvalid: true},
		{err: APIError{HTTPStatus: 400, Code: 190, Subcode: 463}, tokenInvalid: true},
		{err: APIError{HTTPStatus: 400, Code: 100}},
		{err: APIError{HTTPStatus: 400, Code: 10}},
		{err: APIError{HTTPStatus: 403, Code: 200}},
		{err: APIError{HTTPStatus: 400, Code: 24, Subcode: 4279009}, temporary: true}, // media not ready: wait, then publish again
		{err: APIError{HTTPStatus: 404, Message: "unexpected response"}},
		{err: APIError{HTTPStatus: 400, Code: 1}, temporary: true},
		// Documented as final although code 1 (or the flags) says temporary.
		{err: APIError{HTTPStatus: 400, Code: 1, Subcode: 2207052}},
		{err: APIError{HTTPStatus: 400, Code: 1, Subcode: 2207052, IsTransient: true}},
		{err: APIError{HTTPStatus: 400, Code: 1, Subcode: 2207051}},
		{err: APIError{HTTPStatus: 400, Code: 1, Subcode: 4279013}},
		{err: APIError{HTTPStatus: 500, Code: 2, Subcode: 4279013}},
		{err: APIError{HTTPStatus: 400, Code: 2}, temporary: true},
		{err: APIError{HTTPStatus: 400, Code: 4}, temporary: true, rateLimited: true},
		{err: APIError{HTTPStatus: 400, Code: 17}, temporary: true, rateLimited: true},
		{err: APIError{HTTPStatus: 400, Code: 32}, temporary: true, rateLimited: true},
		{err: APIError{HTTPStatus: 400, Code: 613}, temporary: true, rateLimited: true},
		{err: APIError{HTTPStatus: 400, Code: 100, IsTransient: true}, temporary: true},
		{err: APIError{HTTPStatus: 429}, temporary: true, rateLimited: true},
		{err: APIError{HTTPStatus: 500}, temporary: true},
		{err: APIError{HTTPStatus: 503, Message: "unexpected response"}, temporary: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d/%d/%v", tt.err.HTTPStatus, tt.err.Code, tt.err.Subcode, tt.err.IsTransient), func(t *testing.T) {
			if got := tt.err.Temporary(); got != tt.temporary {
				t.Errorf("Temporary() = %v, want %v", got, tt.temporary)
			}
			if got := tt.err.TokenInvalid(); got != tt.tokenInvalid {
				t.Errorf("TokenInvalid() = %v, want %v", got, tt.tokenInvalid)
			}
			if got := tt.err.RateLimited(); got != tt.rateLimited {
				t.Errorf("RateLimited() = %v, want %v", got, tt.rateLimited)
			}
		})
	}
}

func TestAPIErrorLogAttrs(t *testing.T) {
	t.Parallel()
	e := &APIError{HTTPStatus: 400, Message: "Session has expired.", Type: "OAuthException",
		Code: 190, Subcode: 460, IsTransient: true, FBTraceID: "ABC"}
	want := []slog.Attr{
		slog.Int("http_status", 400),
		slog.Int("code", 190),
		slog.Int("subcode", 460),
		slog.String("type", "OAuthException"),
		slog.Bool("is_transient", true),
		slog.String("fbtrace_id", "ABC"),
		slog.String("message", "Session has expired."),
	}
	got := e.LogAttrs()
	if len(got) != len(want) {
		t.Fatalf("LogAttrs() = %v, want %v", got, want)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("LogAttrs()[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestAPIErrorAs(t *testing.T) {
	t.Parallel()
	var err error = fmt.Errorf("connecting: %w", &APIError{HTTPStatus: 400, Code: 190})
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !apiErr.TokenInvalid() {
		t.Errorf("errors.As(%v) did not find the token-invalid APIError", err)
	}
}

func TestRedactedErrorUnwraps(t *testing.T) {
	t.Parallel()
	cause := errors.New("cause")
	err := redactor{"SECRET-abc"}.wrap(fmt.Errorf("dial SECRET-abc: %w", cause))
	if got, want := err.Error(), "dial [redacted]: cause"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, cause) {
		t.Errorf("errors.Is(%v, cause) = false, want true", err)
	}
	plain := fmt.Errorf("nothing to hide: %w", cause)
	if got := (redactor{"SECRET-abc", ""}).wrap(plain); got != plain {
		t.Errorf("wrap changed an error with nothing to redact: %v", got)
	}
}
