package cloudtasksfake

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"threadsfunctions.dev/shared/jws"
)

const (
	// defaultDispatchDeadline is Cloud Tasks' default for HTTP tasks.
	defaultDispatchDeadline = 10 * time.Minute
	// tokenLifetime is the lifetime of the ID tokens the fake signs, as Google's.
	tokenLifetime = time.Hour
	// googleIssuer is the iss of the ID tokens the fake signs.
	googleIssuer = "https://accounts.google.com"
	// maxDrain bounds how much of a response body the fake reads.
	maxDrain = 64 << 10
)

// armLocked schedules the next attempt of t at at (now if at has passed).
// The caller holds s.mu and has checked that s is not stopped.
func (s *Server) armLocked(t *task, at time.Time) {
	s.wg.Add(1)
	t.timer = time.AfterFunc(max(time.Until(at), 0), func() {
		defer s.wg.Done()
		s.attempt(t)
	})
}

// finishLocked removes t from the live tasks: delivered, given up or deleted.
func (s *Server) finishLocked(t *task) {
	t.finished = true
	t.due = false
	t.timer = nil
	delete(s.live, t.pb.GetName())
	s.notifyLocked()
}

// attempt runs one delivery attempt of t and then finishes it or arms the
// next one.
func (s *Server) attempt(t *task) {
	s.mu.Lock()
	if s.stopped || t.finished {
		s.mu.Unlock()
		return
	}
	t.timer = nil
	if !t.due {
		t.due = true
		s.notifyLocked()
	}
	t.attempts++
	t.pb.DispatchCount = int32(t.attempts)
	a := dispatchArgs{
		req:        proto.Clone(t.pb.GetHttpRequest()).(*cloudtaskspb.HttpRequest),
		name:       t.pb.GetName(),
		id:         t.id,
		eta:        t.pb.GetScheduleTime().AsTime(),
		retryCount: t.attempts - 1,
		execCount:  t.execs,
		deadline:   defaultDispatchDeadline,
	}
	if d := t.pb.GetDispatchDeadline(); d != nil && d.AsDuration() > 0 {
		a.deadline = d.AsDuration()
	}
	n := t.attempts
	s.mu.Unlock()

	sent := time.Now()
	code, retryAfter, err := s.dispatch(a)
	done := time.Now()

	s.mu.Lock()
	d := Delivery{TaskID: t.id, Attempt: n, StatusCode: code, At: sent}
	if err != nil {
		d.Err = err.Error()
	}
	if code != 0 {
		t.responses++
		if code < 500 {
			t.execs++
		}
	}
	t.pb.ResponseCount = int32(t.responses)
	at := &cloudtaskspb.Attempt{
		ScheduleTime:   timestamppb.New(a.eta),
		DispatchTime:   timestamppb.New(sent),
		ResponseTime:   timestamppb.New(done),
		ResponseStatus: &rpcstatus.Status{Code: int32(httpToCode(code)), Message: responseMessage(code, d.Err)},
	}
	if t.pb.FirstAttempt == nil {
		t.pb.FirstAttempt = at
	}
	t.pb.LastAttempt = at

	var next time.Duration
	switch {
	case t.finished: // deleted while in flight
	case err == nil && code >= 200 && code < 300:
		s.finishLocked(t)
	case n >= s.opts.delivery.MaxAttempts:
		d.GaveUp = true
		s.givenUp = append(s.givenUp, t.id)
		s.finishLocked(t)
	case s.stopped:
	default:
		next = s.backoff(n, retryAfter)
		when := time.Now().Add(next)
		t.pb.ScheduleTime = timestamppb.New(when)
		s.armLocked(t, when)
	}
	s.deliveries = append(s.deliveries, d)
	s.notifyLocked()
	s.mu.Unlock()

	s.opts.logger.Info("cloudtasksfake: delivery attempt",
		"task", d.TaskID, "attempt", d.Attempt, "status", d.StatusCode,
		"error", d.Err, "gave_up", d.GaveUp, "retry_in", next)
}

// backoff is the wait after the n-th failed attempt: Retry-After when the
// response had one (retryAfter >= 0), else MinBackoff doubled n-1 times; both
// capped at MaxBackoff.
func (s *Server) backoff(n int, retryAfter time.Duration) time.Duration {
	cfg := s.opts.delivery
	if retryAfter >= 0 {
		return min(retryAfter, cfg.MaxBackoff)
	}
	d := cfg.MinBackoff
	for i := 1; i < n && d < cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, cfg.MaxBackoff)
}

// dispatchArgs is what one attempt sends, copied out of the task under s.mu.
type dispatchArgs struct {
	req        *cloudtaskspb.HttpRequest
	name, id   string
	eta        time.Time
	retryCount int
	execCount  int
	deadline   time.Duration
}

// dispatch sends one attempt. It returns the status code (0 on a transport
// error) and the Retry-After delay (-1 when absent).
func (s *Server) dispatch(a dispatchArgs) (code int, retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(s.ctx, a.deadline)
	defer cancel()
	req, err := s.request(ctx, a, a.req.GetUrl())
	if err != nil {
		return 0, -1, err
	}

	resp, err := s.client.Do(req)
	if err != nil {
		// The error names the method and URL, never the headers.
		return 0, -1, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	retryAfter = -1
	if n, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && n >= 0 {
		retryAfter = time.Duration(min(n, 1<<20)) * time.Second
	}
	return resp.StatusCode, retryAfter, nil
}

// request builds what one attempt sends to url: the task's method, body
// and headers, Cloud Tasks' X-CloudTasks-* headers and, for a task with an
// oidc_token, an ID token signed with the fake's key.
func (s *Server) request(ctx context.Context, a dispatchArgs, url string) (*http.Request, error) {
	hr := a.req
	req, err := http.NewRequestWithContext(ctx, hr.GetHttpMethod().String(), url, bytes.NewReader(hr.GetBody()))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range hr.GetHeaders() {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Content-Length", "Authorization", "User-Agent":
			// Set by the transport or by Cloud Tasks itself.
		default:
			req.Header.Set(k, v)
		}
	}
	if len(hr.GetBody()) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	queue, _, _ := splitTaskName(a.name)
	req.Header.Set("User-Agent", "Google-Cloud-Tasks")
	req.Header.Set("X-CloudTasks-QueueName", queue[strings.LastIndex(queue, "/")+1:])
	req.Header.Set("X-CloudTasks-TaskName", a.id)
	req.Header.Set("X-CloudTasks-TaskRetryCount", strconv.Itoa(a.retryCount))
	req.Header.Set("X-CloudTasks-TaskExecutionCount", strconv.Itoa(a.execCount))
	req.Header.Set("X-CloudTasks-TaskETA", strconv.FormatFloat(float64(a.eta.UnixMicro())/1e6, 'f', 6, 64))
	if o := hr.GetOidcToken(); o != nil {
		aud := o.GetAudience()
		if aud == "" {
			aud = hr.GetUrl()
		}
		tok, err := s.IDToken(aud, o.GetServiceAccountEmail())
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, nil
}

// DeliveryRequest returns the request of t's first delivery attempt, as the
// fake would send it (see WithDelivery) but addressed to url instead of the
// task's URL: for harnesses that deliver stored tasks themselves, to an
// instance of their choosing. t is a task as Tasks returns it.
func (s *Server) DeliveryRequest(ctx context.Context, t *cloudtaskspb.Task, url string) (*http.Request, error) {
	_, id, ok := splitTaskName(t.GetName())
	if !ok || t.GetHttpRequest() == nil {
		return nil, fmt.Errorf("cloudtasksfake: %q is not an HTTP task of the fake", t.GetName())
	}
	return s.request(ctx, dispatchArgs{req: t.GetHttpRequest(), name: t.GetName(), id: id, eta: t.GetScheduleTime().AsTime()}, url)
}

// IDToken returns an OIDC ID token signed with the fake's key, as Cloud
// Tasks attaches to deliveries: iss https://accounts.google.com, aud
// audience, email (verified) email, valid for an hour from now. Tests of
// delivery handlers can use it to call them directly.
func (s *Server) IDToken(audience, email string) (string, error) {
	now := time.Now()
	sub := sha256.Sum256([]byte(email))
	tok, err := jws.SignRS256(s.key, map[string]string{"alg": "RS256", "kid": s.kid, "typ": "JWT"}, map[string]any{
		"iss":            googleIssuer,
		"aud":            audience,
		"azp":            email,
		"sub":            strconv.FormatUint(binary.BigEndian.Uint64(sub[:8])>>1, 10),
		"email":          email,
		"email_verified": true,
		"iat":            now.Unix(),
		"exp":            now.Add(tokenLifetime).Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("cloudtasksfake: token: %w", err)
	}
	return tok, nil
}

// keyID derives a stable kid from the public key.
func keyID(pub *rsa.PublicKey) string {
	sum := sha256.Sum256(pub.N.Bytes())
	return hex.EncodeToString(sum[:8])
}

func (s *Server) marshalJWKS() []byte {
	b, err := json.Marshal(map[string]any{"keys": []map[string]string{jws.PublicJWK(s.kid, &s.key.PublicKey)}})
	if err != nil {
		panic(fmt.Sprintf("cloudtasksfake: marshal JWKS: %v", err))
	}
	return b
}

// serveJWKS serves the public key of the fake's tokens, as Google serves its
// certs.
func (s *Server) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(s.jwks)
}

// httpToCode maps an attempt's HTTP status to the RPC code Cloud Tasks
// records in Attempt.response_status.
func httpToCode(code int) codes.Code {
	switch {
	case code == 0:
		return codes.Unavailable
	case code >= 200 && code < 300:
		return codes.OK
	case code == http.StatusBadRequest:
		return codes.InvalidArgument
	case code == http.StatusUnauthorized:
		return codes.Unauthenticated
	case code == http.StatusForbidden:
		return codes.PermissionDenied
	case code == http.StatusNotFound:
		return codes.NotFound
	case code == http.StatusConflict:
		return codes.Aborted
	case code == http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case code == http.StatusNotImplemented:
		return codes.Unimplemented
	case code == http.StatusServiceUnavailable:
		return codes.Unavailable
	case code == http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	case code >= 500:
		return codes.Internal
	default:
		return codes.Unknown
	}
}

func responseMessage(code int, errText string) string {
	if code == 0 {
		return errText
	}
	return http.StatusText(code)
}
