// Package httpx holds what every function's HTTP surface shares: the one
// JSON error shape with stable codes, bounded JSON decoding, method checks,
// CORS, panic recovery and per-request logging.
//
// Handlers return errors; an *Error is answered with its status and code,
// anything else is logged and answered as 500 "internal" without details.
package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"threadsfunctions.dev/shared/logging"
)

// Error is an error with an HTTP status and a stable, machine-readable code.
// Message is shown to callers; Err (the cause) is only logged.
type Error struct {
	Status  int
	Code    string
	Message string
	Err     error
}

// Errorf returns an *Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error that keeps err as its (logged, never shown) cause.
func Wrap(err error, status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message, Err: err}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Stable codes shared by every function.
const (
	CodeInternal           = "internal"
	CodeMisconfigured      = "misconfigured"
	CodeMethodNotAllowed   = "method_not_allowed"
	CodeOriginNotAllowed   = "origin_not_allowed"
	CodeInvalidJSON        = "invalid_json"
	CodeUnknownField       = "unknown_field"
	CodeBodyTooLarge       = "body_too_large"
	CodeUnsupportedMedia   = "unsupported_media_type"
	CodeNotFound           = "not_found"
	CodeServiceUnavailable = "unavailable"
)

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	OK    bool        `json:"ok"`
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the "error" member of ErrorBody.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // JSON for programs, not for embedding in HTML
	_ = enc.Encode(v)
}

// WriteError answers err in the JSON error shape. Errors that are not an
// *Error, and *Errors with a 5xx status, are logged with their cause.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var he *Error
	if !errors.As(err, &he) {
		he = Wrap(err, http.StatusInternalServerError, CodeInternal, "internal error")
	}
	log := logging.FromContext(r.Context())
	switch {
	case he.Status >= 500:
		log.Error("request failed", "code", he.Code, "status", he.Status, "error", errString(he.Err))
	default:
		log.Info("request rejected", "code", he.Code, "status", he.Status)
	}
	WriteJSON(w, he.Status, ErrorBody{OK: false, Error: ErrorDetail{Code: he.Code, Message: he.Message}})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// DecodeJSON reads r's body, at most maxBytes, into dst. Unknown fields are
// refused. An empty body is accepted when optional is true (dst is left as is).
func DecodeJSON(r *http.Request, dst any, maxBytes int64, optional bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return Errorf(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "request body is larger than %d bytes", maxBytes)
		}
		return Wrap(err, http.StatusBadRequest, CodeInvalidJSON, "could not read the request body")
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if optional {
			return nil
		}
		return Errorf(http.StatusBadRequest, CodeInvalidJSON, "a JSON request body is required")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return Errorf(http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Type must be application/json")
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return Errorf(http.StatusBadRequest, CodeUnknownField, "unknown field %s", name)
		}
		return Errorf(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON body: %s", jsonProblem(err))
	}
	// Only white space may follow the object: dec.More would also stop at a
	// stray '}' or ']'.
	if _, err := dec.Token(); err != io.EOF {
		return Errorf(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON body: something follows the JSON value")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the body.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be %s", typ.Field, typ.Type.String())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	default:
		return "not a JSON object"
	}
}

// Route describes how one function accepts requests.
type Route struct {
	// Methods allowed besides OPTIONS (which is answered for CORS when
	// AllowOrigin is set). HEAD is never implied.
	Methods []string
	// AllowOrigin reports whether a browser origin may call the function.
	// Nil means the function is not called from browsers: no CORS headers.
	AllowOrigin func(origin string) bool
	// AllowHeaders lists request headers browsers may send (CORS).
	AllowHeaders []string
	// Logger is the base logger; nil uses slog.Default().
	Logger *slog.Logger
	// ProjectID qualifies trace ids in logs.
	ProjectID string
}

// HandlerFunc is a handler that reports failure by returning an error.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handler wraps h with logging context, panic recovery, CORS and the
// method check, and writes the JSON error for whatever h returns.
func (rt Route) Handler(h HandlerFunc) http.Handler {
	base := rt.Logger
	if base == nil {
		base = slog.Default()
	}
	allow := strings.Join(rt.Methods, ", ")
	if rt.AllowOrigin != nil {
		allow += ", OPTIONS"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(logging.RequestContext(r, base, rt.ProjectID))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				WriteError(w, r, fmt.Errorf("panic: %v", p))
			}
		}()
		if origin, allowed := CORSOrigin(w, r, rt.AllowOrigin); origin != "" {
			if !allowed {
				WriteError(w, r, Errorf(http.StatusForbidden, CodeOriginNotAllowed, "origin %s may not call this function", safeOrigin(origin)))
				return
			}
			if r.Method == http.MethodOptions {
				w.Header().Set("Access-Control-Allow-Methods", allow)
				w.Header().Set("Access-Control-Allow-Headers", strings.Join(rt.AllowHeaders, ", "))
				w.Header().Set("Access-Control-Max-Age", "3600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if !contains(rt.Methods, r.Method) {
			w.Header().Set("Allow", allow)
			WriteError(w, r, Errorf(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method %s is not allowed; use %s", safeToken(r.Method), strings.Join(rt.Methods, " or ")))
			return
		}
		if err := h(w, r); err != nil {
			WriteError(w, r, err)
		}
	})
}

// CORSOrigin sets the CORS headers every answer to a browser's request
// carries: Vary: Origin, and when allow accepts the request's Origin,
// Access-Control-Allow-Origin and Access-Control-Expose-Headers: Retry-After
// (not a header a page may read otherwise; 429 and 503 answers say with it
// when to try again). It returns that origin ("" when the request has none
// or allow is nil: not a CORS call) and whether it is allowed.
func CORSOrigin(w http.ResponseWriter, r *http.Request, allow func(origin string) bool) (origin string, allowed bool) {
	origin = r.Header.Get("Origin")
	if origin == "" || allow == nil {
		return "", false
	}
	w.Header().Add("Vary", "Origin")
	if !allow(origin) {
		return origin, false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
	return origin, true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// safeOrigin keeps only the origin of a header value for messages.
func safeOrigin(o string) string {
	if len(o) > 200 {
		o = o[:200]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, o)
}

func safeToken(s string) string {
	if len(s) > 20 {
		s = s[:20]
	}
	return safeOrigin(s)
}

// PooledTransport returns a transport for a client that calls its backend
// many times at once. net/http's default keeps 2 idle connections per host,
// so concurrent calls would dial (and, in production, handshake TLS) again
// and again; this one keeps up to 128 per host, for 90 s.
func PooledTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 128
	t.IdleConnTimeout = 90 * time.Second
	return t
}
