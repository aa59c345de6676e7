package threads

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Distinctive credentials, so that a leak into an error string is easy to
// spot.
const (
	testAppID    = "APPID-42"
	testSecret   = "SECRET-abc"
	testRedirect = "https://app.example.test/auth/callback"
	testCode     = "CODE-xyz"
	testToken    = "TOKEN-123"
	testLong     = "LONGTOKEN-456"
	// testUserID has more digits than a float64 holds exactly.
	testUserID = "17841400000000001"
)

func newTestClient(graphURL string) *Client {
	return &Client{
		AppID:       testAppID,
		AppSecret:   testSecret,
		RedirectURI: testRedirect,
		GraphURL:    graphURL,
	}
}

// serve starts a fake Graph API that answers every request with h.
func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// answer writes a canned JSON answer.
func answer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// checkValues reports a difference between two sets of form or query
// fields, extra fields included.
func checkValues(t *testing.T, what string, got, want url.Values) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %v, want exactly %v", what, got, want)
	}
}

// calls runs each client call with the test credentials, for tests that
// check every call behaves alike.
var calls = []struct {
	name string
	call func(context.Context, *Client) error
}{
	{"ExchangeCode", func(ctx context.Context, c *Client) error {
		_, err := c.ExchangeCode(ctx, testCode)
		return err
	}},
	{"ExchangeLongLived", func(ctx context.Context, c *Client) error {
		_, err := c.ExchangeLongLived(ctx, testToken)
		return err
	}},
	{"Me", func(ctx context.Context, c *Client) error {
		_, err := c.Me(ctx, testToken)
		return err
	}},
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		status        int
		body          string
		want          APIError
		temporary     bool
		tokenInvalid  bool
		notReady      bool
		unknownResult bool
	}{
		{
			name:   "token invalid",
			status: http.StatusBadRequest,
			body: `{"error":{"message":"Error validating access token: Session has expired.","type":"OAuthException",` +
				`"code":190,"error_subcode":463,"fbtrace_id":"AbC123xyz"}}`,
			want: APIError{HTTPStatus: 400, Message: "Error validating access token: Session has expired.",
				Type: "OAuthException", Code: 190, Subcode: 463, FBTraceID: "AbC123xyz"},
			tokenInvalid: true,
		},
		{
			name:   "transient 500",
			status: http.StatusInternalServerError,
			body: `{"error":{"message":"An unexpected error has occurred.","type":"THApiException",` +
				`"code":2,"is_transient":true,"fbtrace_id":"T1"}}`,
			want: APIError{HTTPStatus: 500, Message: "An unexpected error has occurred.",
				Type: "THApiException", Code: 2, IsTransient: true, FBTraceID: "T1"},
			temporary: true, unknownResult: true,
		},
		{
			name:   "is_transient alone makes it temporary",
			status: http.StatusBadRequest,
			body:   `{"error":{"message":"Try again.","type":"THApiException","code":100,"is_transient":true,"fbtrace_id":"T2"}}`,
			want: APIError{HTTPStatus: 400, Message: "Try again.", Type: "THApiException", Code: 100,
				IsTransient: true, FBTraceID: "T2"},
			temporary: true,
		},
		{
			name:      "rate limit code 4",
			status:    http.StatusBadRequest,
			body:      `{"error":{"message":"Application request limit reached","type":"OAuthException","code":4,"is_transient":false,"fbtrace_id":"R4"}}`,
			want:      APIError{HTTPStatus: 400, Message: "Application request limit reached", Type: "OAuthException", Code: 4, FBTraceID: "R4"},
			temporary: true,
		},
		{
			name:   "permanent bad parameter",
			status: http.StatusBadRequest,
			body:   `{"error":{"message":"Invalid parameter","type":"THApiException","code":100,"error_subcode":33,"error_user_title":"t","error_user_msg":"m","fbtrace_id":"P"}}`,
			want:   APIError{HTTPStatus: 400, Message: "Invalid parameter", Type: "THApiException", Code: 100, Subcode: 33, FBTraceID: "P"},
		},
		{
			name:         "codes as strings",
			status:       http.StatusUnauthorized,
			body:         `{"error":{"message":"expired","code":"190","error_subcode":"460","is_transient":"false"}}`,
			want:         APIError{HTTPStatus: 401, Message: "expired", Code: 190, Subcode: 460},
			tokenInvalid: true,
		},
		{
			name:      "non-JSON 502",
			status:    http.StatusBadGateway,
			body:      `<html><body>502 Bad Gateway</body></html>`,
			want:      APIError{HTTPStatus: 502, Message: "unexpected response"},
			temporary: true, unknownResult: true,
		},
		{
			name:   "JSON 404 without error object",
			status: http.StatusNotFound,
			body:   `{"detail":"not here"}`,
			want:   APIError{HTTPStatus: 404, Message: "unexpected response"},
		},
		{
			name:   "error as a string",
			status: http.StatusBadRequest,
			body:   `{"error":"invalid_request"}`,
			want:   APIError{HTTPStatus: 400, Message: "unexpected response"},
		},
		{
			name:   "empty 403",
			status: http.StatusForbidden,
			want:   APIError{HTTPStatus: 403, Message: "unexpected response"},
		},
		{
			name:         "error object in a 200",
			status:       http.StatusOK,
			body:         `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,"fbtrace_id":"Z"}}`,
			want:         APIError{HTTPStatus: 200, Message: "Invalid OAuth access token.", Type: "OAuthException", Code: 190, FBTraceID: "Z"},
			tokenInvalid: true,
		},
		// Answers to publishing calls.
		{
			name:   "media not found",
			status: http.StatusBadRequest,
			body: `{"error":{"message":"Media Not Found","type":"OAuthException","code":24,"error_subcode":4279009,` +
				`"is_transient":false,"error_user_title":"Media Not Found","error_user_msg":"The requested resource does not exist","fbtrace_id":"M1"}}`,
			want:      APIError{HTTPStatus: 400, Message: "Media Not Found", Type: "OAuthException", Code: 24, Subcode: 4279009, FBTraceID: "M1"},
			temporary: true, notReady: true,
		},
		{
			name:   "token revoked",
			status: http.StatusBadRequest,
			body:   `{"error":{"message":"Error validating access token: The user has not authorized application.","type":"OAuthException","code":190,"error_subcode":458,"fbtrace_id":"T"}}`,
			want: APIError{HTTPStatus: 400, Message: "Error validating access token: The user has not authorized application.",
				Type: "OAuthException", Code: 190, Subcode: 458, FBTraceID: "T"},
			tokenInvalid: true,
		},
		{
			name:   "bad parameter",
			status: http.StatusBadRequest,
			body:   `{"error":{"message":"Invalid parameter","type":"THApiException","code":100,"fbtrace_id":"P"}}`,
			want:   APIError{HTTPStatus: 400, Message: "Invalid parameter", Type: "THApiException", Code: 100, FBTraceID: "P"},
		},
		{
			name:      "rate limited",
			status:    http.StatusBadRequest,
			body:      `{"error":{"message":"Application request limit reached","type":"OAuthException","code":4,"fbtrace_id":"R"}}`,
			want:      APIError{HTTPStatus: 400, Message: "Application request limit reached", Type: "OAuthException", Code: 4, FBTraceID: "R"},
			temporary: true,
		},
		{
			name:   "transient 500, OAuthException",
			status: http.StatusInternalServerError,
			body:   `{"error":{"message":"An unexpected error has occurred.","type":"OAuthException","code":2,"is_transient":true,"fbtrace_id":"S"}}`,
			want: APIError{HTTPStatus: 500, Message: "An unexpected error has occurred.", Type: "OAuthException",
				Code: 2, IsTransient: true, FBTraceID: "S"},
			temporary: true, unknownResult: true,
		},
		{
			name:      "non-JSON 504",
			status:    http.StatusGatewayTimeout,
			body:      `<html>timeout</html>`,
			want:      APIError{HTTPStatus: 504, Message: "unexpected response"},
			temporary: true, unknownResult: true,
		},
		{
			name:      "media not found in a 200",
			status:    http.StatusOK,
			body:      `{"error":{"message":"Media Not Found","code":24,"error_subcode":4279009}}`,
			want:      APIError{HTTPStatus: 200, Message: "Media Not Found", Code: 24, Subcode: 4279009},
			temporary: true, notReady: true,
		},
	}
	for _, tt := range tests {
		for _, call := range allCalls {
			t.Run(tt.name+"/"+call.name, func(t *testing.T) {
				t.Parallel()
				srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
					answer(w, tt.status, tt.body)
				})
				err := call.call(t.Context(), newTestClient(srv.URL))
				apiErr, ok := errors.AsType[*APIError](err)
				if !ok {
					t.Fatalf("error = %v (%T), want an *APIError", err, err)
				}
				if *apiErr != tt.want {
					t.Errorf("APIError = %+v, want %+v", *apiErr, tt.want)
				}
				if got := apiErr.Temporary(); got != tt.temporary {
					t.Errorf("Temporary() = %v, want %v", got, tt.temporary)
				}
				if got := apiErr.TokenInvalid(); got != tt.tokenInvalid {
					t.Errorf("TokenInvalid() = %v, want %v", got, tt.tokenInvalid)
				}
				if got := apiErr.MediaNotReady(); got != tt.notReady {
					t.Errorf("MediaNotReady() = %v, want %v", got, tt.notReady)
				}
				if got := IsUnknownOutcome(err); got != tt.unknownResult {
					t.Errorf("IsUnknownOutcome = %v, want %v", got, tt.unknownResult)
				}
				if errors.Is(err, ErrMalformedResponse) {
					t.Errorf("error %v is ErrMalformedResponse, want only an APIError", err)
				}
				if strings.Contains(err.Error(), "<html>") || strings.Contains(err.Error(), "not here") {
					t.Errorf("error %q echoes the raw answer", err)
				}
			})
		}
	}
}

func TestMalformedResponse(t *testing.T) {
	t.Parallel()
	huge := `{"access_token":"` + strings.Repeat("a", maxBodyBytes) + `","id":"1"}`
	tests := []struct {
		name string
		body string
		only string // run for this call only; all calls if empty
	}{
		{name: "empty object", body: `{}`},
		{name: "empty body", body: ``},
		{name: "not JSON", body: `<html>ok</html>`},
		{name: "truncated JSON", body: `{"access_token":"x`},
		{name: "JSON array", body: `[1,2]`},
		{name: "access_token not a string", body: `{"access_token":12345}`, only: "ExchangeCode"},
		{name: "access_token not a string", body: `{"access_token":12345}`, only: "ExchangeLongLived"},
		{name: "username not a string", body: `{"id":"1","username":12345}`, only: "Me"},
		{name: "over 1 MiB", body: huge},
		{name: "access_token empty", body: `{"access_token":"","user_id":1}`, only: "ExchangeCode"},
		{name: "user_id fractional", body: `{"access_token":"x","user_id":1.5}`, only: "ExchangeCode"},
		{name: "user_id negative", body: `{"access_token":"x","user_id":-1}`, only: "ExchangeCode"},
		{name: "user_id in exponent form", body: `{"access_token":"x","user_id":1.7841400000000001e16}`, only: "ExchangeCode"},
		{name: "user_id object", body: `{"access_token":"x","user_id":{}}`, only: "ExchangeCode"},
		{name: "expires_in fractional", body: `{"access_token":"x","expires_in":1.5}`, only: "ExchangeLongLived"},
		{name: "expires_in bool", body: `{"access_token":"x","expires_in":true}`, only: "ExchangeLongLived"},
		{name: "no id", body: `{"username":"ada"}`, only: "Me"},
		{name: "id bool", body: `{"id":true,"username":"ada"}`, only: "Me"},
		// Answers to publishing calls.
		{name: "truncated JSON with an id", body: `{"id":"1`},
		{name: "id bool", body: `{"id":true}`, only: "CreateContainer"},
		{name: "id bool", body: `{"id":true}`, only: "Publish"},
		{name: "id fractional", body: `{"id":1.5}`, only: "Publish"},
		{name: "id empty", body: `{"id":""}`, only: "CreateContainer"},
		{name: "status empty", body: `{"id":"1","status":""}`, only: "ContainerStatus"},
		{name: "status number", body: `{"id":"1","status":3}`, only: "ContainerStatus"},
		{name: "data empty", body: `{"data":[]}`, only: "PublishingLimit"},
		{name: "data without config", body: `{"data":[{"quota_usage":1}]}`, only: "PublishingLimit"},
		{name: "quota_total zero", body: `{"data":[{"quota_usage":1,"config":{"quota_total":0}}]}`, only: "PublishingLimit"},
		{name: "quota_usage fractional", body: `{"data":[{"quota_usage":1.5,"config":{"quota_total":250}}]}`, only: "PublishingLimit"},
		{name: "data an object", body: `{"data":{"quota_usage":1}}`, only: "PublishingLimit"},
		{name: "no access_token", body: `{"token_type":"bearer"}`, only: "RefreshToken"},
		{name: "expires_in bool", body: `{"access_token":"x","expires_in":true}`, only: "RefreshToken"},
	}
	for _, tt := range tests {
		for _, call := range allCalls {
			if tt.only != "" && tt.only != call.name {
				continue
			}
			t.Run(tt.name+"/"+call.name, func(t *testing.T) {
				t.Parallel()
				srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
					answer(w, http.StatusOK, tt.body)
				})
				err := call.call(t.Context(), newTestClient(srv.URL))
				if !errors.Is(err, ErrMalformedResponse) {
					t.Fatalf("error = %v, want ErrMalformedResponse", err)
				}
				if _, ok := errors.AsType[*APIError](err); ok {
					t.Errorf("error %v is also an APIError", err)
				}
				checkNoSecrets(t, err)
			})
		}
	}
}

// TestOversizedErrorAnswer checks that an error answer over the read limit
// is still an APIError.
func TestOversizedErrorAnswer(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusServiceUnavailable, strings.Repeat("x", maxBodyBytes+10))
	})
	_, err := newTestClient(srv.URL).Me(t.Context(), testToken)
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v, want an *APIError", err)
	}
	if want := (APIError{HTTPStatus: 503, Message: "unexpected response"}); *apiErr != want {
		t.Errorf("APIError = %+v, want %+v", *apiErr, want)
	}
}

// hang stands for a server that does not answer: it waits until the client
// goes away, or 10 seconds at most so that a failing test cannot hang. It
// reads the request body first: until it does, the server does not watch the
// connection and the request context is not cancelled when the client leaves.
func hang(r *http.Request) {
	io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// secrets are the strings no error may contain: the credentials and the
// shapes of a URL or form that carries them.
var secrets = []string{testSecret, testCode, testToken, "client_secret", "access_token=", "code=", "?"}

func checkNoSecrets(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("error = nil, want an error")
	}
	msg := err.Error()
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("error %q contains %q", msg, s)
		}
	}
}

// echo returns everything the request carried, credentials included, as a
// misbehaving server might send back.
func echo(r *http.Request) string {
	body, _ := io.ReadAll(r.Body)
	return r.URL.String() + " " + string(body)
}

// closedURL refuses connections: nothing listens on port 1 (a closed
// server's port could be taken by a parallel test's server meanwhile).
const closedURL = "http://127.0.0.1:1"

func TestErrorsHoldNoSecrets(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		handler http.HandlerFunc // nil: use closedURL
		timeout time.Duration    // context timeout, if not 0
		check   func(t *testing.T, err error)
	}{
		{
			name: "API error echoing credentials",
			handler: func(w http.ResponseWriter, r *http.Request) {
				// Echo the credentials this request carried: the client
				// can only redact what it sent.
				r.ParseForm()
				var sent []string
				for _, k := range []string{"client_secret", "code", "access_token"} {
					if v := r.Form.Get(k); v != "" {
						sent = append(sent, v)
					}
				}
				answer(w, http.StatusBadRequest, `{"error":{"message":"bad credentials `+strings.Join(sent, ", ")+
					`","type":"OAuthException `+sent[0]+`","code":190,"fbtrace_id":"`+sent[len(sent)-1]+`"}}`)
			},
			check: func(t *testing.T, err error) {
				var apiErr *APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("error = %v, want an *APIError", err)
				}
				for _, a := range apiErr.LogAttrs() {
					for _, s := range []string{testSecret, testCode, testToken} {
						if strings.Contains(a.Value.String(), s) {
							t.Errorf("log attribute %s = %q contains %q", a.Key, a.Value, s)
						}
					}
				}
			},
		},
		{
			name: "non-JSON error answer echoing the request",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadGateway)
				io.WriteString(w, echo(r))
			},
		},
		{
			name: "malformed 200 echoing the request",
			handler: func(w http.ResponseWriter, r *http.Request) {
				answer(w, http.StatusOK, `{"access_token": `+echo(r))
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrMalformedResponse) {
					t.Errorf("error = %v, want ErrMalformedResponse", err)
				}
			},
		},
		{
			name: "wrong types quoting credentials",
			handler: func(w http.ResponseWriter, r *http.Request) {
				answer(w, http.StatusOK, `{"access_token":["SECRET-abc","CODE-xyz","TOKEN-123"],"user_id":"1","id":["TOKEN-123"],"expires_in":"TOKEN-123"}`)
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrMalformedResponse) {
					t.Errorf("error = %v, want ErrMalformedResponse", err)
				}
			},
		},
		{
			name: "connection refused",
			check: func(t *testing.T, err error) {
				var opErr *net.OpError
				if !errors.As(err, &opErr) {
					t.Errorf("error = %v (%T), want it to wrap a *net.OpError", err, err)
				}
			},
		},
		{
			name: "deadline while awaiting headers",
			handler: func(w http.ResponseWriter, r *http.Request) {
				hang(r)
			},
			timeout: 100 * time.Millisecond,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error = %v, want it to wrap context.DeadlineExceeded", err)
				}
			},
		},
		{
			name: "deadline while reading the body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, `{"access_token":"`)
				w.(http.Flusher).Flush()
				hang(r)
			},
			timeout: 100 * time.Millisecond,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error = %v, want it to wrap context.DeadlineExceeded", err)
				}
			},
		},
	}
	for _, tt := range tests {
		for _, call := range calls {
			t.Run(tt.name+"/"+call.name, func(t *testing.T) {
				t.Parallel()
				graphURL := closedURL
				if tt.handler != nil {
					graphURL = serve(t, tt.handler).URL
				}
				ctx := t.Context()
				if tt.timeout != 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				err := call.call(ctx, newTestClient(graphURL))
				checkNoSecrets(t, err)
				if tt.check != nil {
					tt.check(t, err)
				}
			})
		}
	}
}

func TestTransportErrorsKeepTheirCause(t *testing.T) {
	t.Parallel()
	block := func(w http.ResponseWriter, r *http.Request) { hang(r) }

	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		srv := serve(t, block)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := newTestClient(srv.URL).ExchangeLongLived(ctx, testToken)
		checkNoSecrets(t, err)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want it to wrap context.Canceled", err)
		}
		if want := "threads: GET /access_token: "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error = %q, want prefix %q", err, want)
		}
	})

	t.Run("client timeout", func(t *testing.T) {
		t.Parallel()
		srv := serve(t, block)
		c := newTestClient(srv.URL)
		c.HTTP = &http.Client{Timeout: 100 * time.Millisecond}
		_, err := c.ExchangeCode(t.Context(), testCode)
		checkNoSecrets(t, err)
		var netErr net.Error
		if !errors.As(err, &netErr) || !netErr.Timeout() {
			t.Errorf("error = %v, want a net.Error that is a timeout", err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want it to wrap context.DeadlineExceeded", err)
		}
		if want := "threads: POST /oauth/access_token: "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("error = %q, want prefix %q", err, want)
		}
	})
}

// TestMissingInput checks that calls with missing configuration or input
// fail without sending anything.
func TestMissingInput(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
	})
	tests := []struct {
		name string
		call func(*Client) error
		edit func(*Client)
		want string
	}{
		{
			name: "no GraphURL",
			call: func(c *Client) error { _, err := c.Me(t.Context(), testToken); return err },
			edit: func(c *Client) { c.GraphURL = "" },
			want: "GraphURL",
		},
		{
			name: "no AppID",
			call: func(c *Client) error { _, err := c.ExchangeCode(t.Context(), testCode); return err },
			edit: func(c *Client) { c.AppID = "" },
			want: "AppID",
		},
		{
			name: "no RedirectURI",
			call: func(c *Client) error { _, err := c.ExchangeCode(t.Context(), testCode); return err },
			edit: func(c *Client) { c.RedirectURI = "" },
			want: "RedirectURI",
		},
		{
			name: "no AppSecret",
			call: func(c *Client) error { _, err := c.ExchangeLongLived(t.Context(), testToken); return err },
			edit: func(c *Client) { c.AppSecret = "" },
			want: "AppSecret",
		},
		{
			name: "empty code",
			call: func(c *Client) error { _, err := c.ExchangeCode(t.Context(), ""); return err },
			want: "empty code",
		},
		{
			name: "empty short token",
			call: func(c *Client) error { _, err := c.ExchangeLongLived(t.Context(), ""); return err },
			want: "empty access token",
		},
		{
			name: "empty token for Me",
			call: func(c *Client) error { _, err := c.Me(t.Context(), ""); return err },
			want: "empty access token",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(srv.URL)
			if tt.edit != nil {
				tt.edit(c)
			}
			err := tt.call(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

// TestConcurrentUse runs calls on one Client from many goroutines, for the
// race detector.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		answer(w, http.StatusOK, `{"access_token":"x","user_id":1,"id":"1"}`)
	})
	c := newTestClient(srv.URL)
	errs := make(chan error, 30)
	for i := range cap(errs) {
		go func() { errs <- calls[i%len(calls)].call(t.Context(), c) }()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
