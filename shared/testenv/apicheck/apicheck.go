// Package apicheck proves, in tests, that the functions keep their HTTP
// contract, api/openapi.yaml: wrapped around a function's handler (Handler)
// or a client's transport (Transport), it validates every exchange that
// goes through it against the spec, with kin-openapi's openapi3filter.
//
//   - The answer must be one the spec documents for that operation: its
//     status, its headers and its body (schema, error-code enum). An answer
//     the spec does not describe fails the test.
//   - The request is validated too, but only to classify it: tests send
//     malformed requests on purpose, and those must get a documented error
//     answer. A request the spec refuses that gets a success answer fails
//     the test: the spec would be stricter than the code.
//   - A method the path does not have must be answered as the spec says of
//     any method (405 method_not_allowed with Allow naming the path's
//     methods, or 403/500/503 before the method is looked at).
//
// Each exchanged operation (method, path, status) is recorded, when
// THREADSFN_API_COVERAGE_DIR is set, in a file of that directory, for
// `go run ./tools/apispec coverage DIR` to find operations no test reaches.
//
// Only tests import this package: kin-openapi never reaches a function's
// binary.
package apicheck

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// CoverageEnv names the directory where exercised operations are recorded.
const CoverageEnv = "THREADSFN_API_COVERAGE_DIR"

// SpecPath is the spec's path from the repository root.
const SpecPath = "api/openapi.yaml"

var (
	loadOnce sync.Once
	loaded   *openapi3.T
	loadErr  error
)

// Spec returns api/openapi.yaml, loaded once per test process. It is found
// from the working directory: the nearest directory above it holding go.work.
func Spec() (*openapi3.T, error) {
	loadOnce.Do(func() {
		openapi3filter.RegisterBodyDecoder("text/html", textDecoder)
		var root string
		if root, loadErr = RepoRoot("."); loadErr != nil {
			return
		}
		loader := openapi3.NewLoader()
		loaded, loadErr = loader.LoadFromFile(filepath.Join(root, SpecPath))
		if loadErr != nil {
			loadErr = fmt.Errorf("apicheck: load %s: %w", SpecPath, loadErr)
		}
	})
	return loaded, loadErr
}

// textDecoder decodes an HTML page as the string it is.
func textDecoder(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return string(b), nil
}

// RepoRoot walks up from dir to the directory that holds go.work: the
// repository's root, where SpecPath is.
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("apicheck: repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("apicheck: no go.work above " + dir + ": cannot find " + SpecPath)
		}
		dir = parent
	}
}

// Exchange is one request and its answer.
type Exchange struct {
	// Request is the request as the function received it; its URL's path
	// is the spec's path of the function (e.g. /thPublish).
	Request *http.Request
	// RequestBody is the request's body.
	RequestBody []byte
	Status      int
	Header      http.Header
	Body        []byte
}

// Check validates ex against the spec and returns every problem found
// (none: the exchange keeps the contract). It also records the exchanged
// operation for the coverage check.
func Check(ctx context.Context, ex Exchange) []error {
	doc, err := Spec()
	if err != nil {
		return []error{err}
	}
	path, method := ex.Request.URL.Path, ex.Request.Method
	item := doc.Paths.Value(path)
	if item == nil {
		return []error{fmt.Errorf("%s %s: the spec has no path %s", method, path, path)}
	}
	op := item.GetOperation(method)
	if op == nil {
		return checkOtherMethod(ctx, doc, item, ex)
	}
	record(method, path, ex.Status)

	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
	}
	opts.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string { return err.Reason })
	route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
	req := ex.Request.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(ex.RequestBody))
	reqIn := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(ctx, reqIn)

	var problems []error
	respIn := &openapi3filter.ResponseValidationInput{RequestValidationInput: reqIn, Status: ex.Status, Header: ex.Header, Options: opts}
	respIn.SetBodyBytes(ex.Body)
	if err := openapi3filter.ValidateResponse(ctx, respIn); err != nil {
		problems = append(problems, fmt.Errorf("%s %s: the answer %d is not one the spec documents: %s", method, path, ex.Status, clip(err.Error())))
	}
	if reqErr != nil && ex.Status >= 200 && ex.Status < 300 && !isErrorBody(ex.Body) {
		problems = append(problems, fmt.Errorf("%s %s: the spec refuses this request, but the function accepted it (%d): the spec is stricter than the code: %s",
			method, path, ex.Status, clip(reqErr.Error())))
	}
	if method == http.MethodOptions && ex.Status == http.StatusNoContent {
		if err := sameMethods("Access-Control-Allow-Methods", ex.Header.Get("Access-Control-Allow-Methods"), item); err != nil {
			problems = append(problems, fmt.Errorf("%s %s: %w", method, path, err))
		}
	}
	return problems
}

// checkOtherMethod checks the answer to a method the path does not have:
// what the spec's description says any request may get.
func checkOtherMethod(ctx context.Context, doc *openapi3.T, item *openapi3.PathItem, ex Exchange) []error {
	path, method := ex.Request.URL.Path, ex.Request.Method
	responses := openapi3.NewResponses()
	for status, name := range map[string]string{"405": "MethodNotAllowed", "500": "Misconfigured", "503": "Unavailable"} {
		responses.Set(status, &openapi3.ResponseRef{Value: doc.Components.Responses[name].Value})
	}
	if item.Options != nil { // a function with CORS checks the Origin first
		responses.Set("403", &openapi3.ResponseRef{Value: doc.Components.Responses["OriginNotAllowed"].Value})
	}
	op := &openapi3.Operation{Responses: responses}
	opts := &openapi3filter.Options{IncludeResponseStatus: true}
	opts.WithCustomSchemaErrorFunc(func(err *openapi3.SchemaError) string { return err.Reason })
	route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
	respIn := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: ex.Request, Route: route, Options: opts},
		Status:                 ex.Status, Header: ex.Header, Options: opts,
	}
	respIn.SetBodyBytes(ex.Body)
	var problems []error
	if err := openapi3filter.ValidateResponse(ctx, respIn); err != nil {
		problems = append(problems, fmt.Errorf("%s %s: the path has no %s; the answer %d is not what the spec says of other methods: %s",
			method, path, method, ex.Status, clip(err.Error())))
	}
	if ex.Status == http.StatusMethodNotAllowed {
		if err := sameMethods("Allow", ex.Header.Get("Allow"), item); err != nil {
			problems = append(problems, fmt.Errorf("%s %s: %w", method, path, err))
		}
	}
	return problems
}

// sameMethods checks that a header lists exactly the path's methods.
func sameMethods(header, value string, item *openapi3.PathItem) error {
	var want, got []string
	for m := range item.Operations() {
		want = append(want, m)
	}
	for _, m := range strings.Split(value, ",") {
		if m = strings.TrimSpace(m); m != "" {
			got = append(got, m)
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		return fmt.Errorf("%s is %q; the spec's methods of the path are %s", header, value, strings.Join(want, ", "))
	}
	return nil
}

// isErrorBody reports a JSON answer with "ok": false (thPublish
// acknowledges a malformed task with 200 and an error body).
func isErrorBody(b []byte) bool {
	var v struct {
		OK *bool `json:"ok"`
	}
	return json.Unmarshal(b, &v) == nil && v.OK != nil && !*v.OK
}

// clip keeps failure messages short: validation errors can quote values.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

var (
	recMu   sync.Mutex
	seen    = map[string]bool{}
	recFile string
)

// record appends an exercised operation to this process's coverage file,
// once per method, path and status.
func record(method, path string, status int) {
	dir := os.Getenv(CoverageEnv)
	if dir == "" {
		return
	}
	line := fmt.Sprintf("%s\t%s\t%d\n", method, path, status)
	recMu.Lock()
	defer recMu.Unlock()
	if seen[line] {
		return
	}
	if recFile == "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintf(os.Stderr, "apicheck: %s: %v\n", CoverageEnv, err)
			return
		}
		exe, _ := os.Executable()
		recFile = filepath.Join(dir, fmt.Sprintf("%s-%d.tsv", strings.TrimSuffix(filepath.Base(exe), ".test"), os.Getpid()))
	}
	f, err := os.OpenFile(recFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "apicheck: coverage: %v\n", err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		fmt.Fprintf(os.Stderr, "apicheck: coverage: %v\n", err)
		return
	}
	seen[line] = true
}

// reporter sends problems to the test while it runs; an exchange that ends
// after the test did (a late delivery) is reported on stderr instead.
type reporter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func newReporter(t testing.TB) *reporter {
	r := &reporter{t: t}
	t.Cleanup(func() {
		r.mu.Lock()
		r.done = true
		r.mu.Unlock()
	})
	return r
}

func (r *reporter) report(problems []error) {
	if len(problems) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range problems {
		if r.done {
			fmt.Fprintf(os.Stderr, "apicheck: after %s ended: %v\n", r.t.Name(), p)
			continue
		}
		r.t.Errorf("apicheck (%s): %v", SpecPath, p)
	}
}

// Handler wraps h, the handler of the function named function (its entry
// point, such as "thPublish"), served at any path as a deployed function is:
// each exchange is checked as one with the spec's path /<function>.
// Problems fail t.
func Handler(t testing.TB, function string, h http.Handler) http.Handler {
	t.Helper()
	if _, err := Spec(); err != nil {
		t.Fatal(err)
	}
	rep := newReporter(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := readAll(r.Body)
		if err != nil {
			rep.report([]error{fmt.Errorf("read the request body: %w", err)})
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &recorder{w: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		req := r.Clone(r.Context())
		req.URL.Path, req.URL.RawPath = "/"+function, ""
		rep.report(Check(r.Context(), Exchange{Request: req, RequestBody: body, Status: rec.status, Header: rec.header(), Body: rec.body.Bytes()}))
	})
}

// Transport wraps rt (nil: http.DefaultTransport): each exchange whose path
// is one of the spec's is checked; other requests pass unchecked. Problems
// fail t.
func Transport(t testing.TB, rt http.RoundTripper) http.RoundTripper {
	t.Helper()
	if _, err := Spec(); err != nil {
		t.Fatal(err)
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &transport{rt: rt, rep: newReporter(t)}
}

type transport struct {
	rt  http.RoundTripper
	rep *reporter
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	doc, _ := Spec()
	if doc.Paths.Value(req.URL.Path) == nil {
		return tr.rt.RoundTrip(req)
	}
	body, err := readAll(req.Body)
	if err != nil {
		return nil, fmt.Errorf("apicheck: read the request body: %w", err)
	}
	sent := req.Clone(req.Context())
	sent.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := tr.rt.RoundTrip(sent)
	if err != nil {
		return nil, err
	}
	answer, err := readAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("apicheck: read the answer: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(answer))
	tr.rep.report(Check(req.Context(), Exchange{Request: req, RequestBody: body, Status: resp.StatusCode, Header: resp.Header, Body: answer}))
	return resp, nil
}

func readAll(r io.ReadCloser) ([]byte, error) {
	if r == nil || r == http.NoBody {
		return nil, nil
	}
	defer r.Close()
	return io.ReadAll(r)
}

// recorder passes an answer through to w and keeps a copy.
type recorder struct {
	w           http.ResponseWriter
	status      int
	wroteHeader bool
	snapshot    http.Header
	body        bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.w.Header() }

func (r *recorder) WriteHeader(status int) {
	if r.wroteHeader {
		return
	}
	r.wroteHeader, r.status, r.snapshot = true, status, r.w.Header().Clone()
	r.w.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.WriteHeader(http.StatusOK)
	}
	r.body.Write(b)
	return r.w.Write(b)
}

func (r *recorder) header() http.Header {
	if r.snapshot == nil {
		return r.w.Header().Clone()
	}
	return r.snapshot
}
