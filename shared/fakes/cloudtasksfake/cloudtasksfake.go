// Package cloudtasksfake is an in-process fake of Google Cloud Tasks that
// speaks the real gRPC protocol. Tests (and local runs, where no Cloud Tasks
// emulator exists) point the real client at it with ClientOptions, or set
// tasks.Config.EmulatorHost to Addr.
//
// CreateTask, GetTask, DeleteTask and ListTasks are implemented for HTTP
// tasks; every other RPC answers codes.Unimplemented. Task names are
// deduplicated forever: a name seen once, even of a task since delivered or
// deleted, is refused with codes.AlreadyExists.
//
// With WithDelivery the fake also delivers tasks the way Cloud Tasks does: at
// their schedule time it sends the HTTP request with Cloud Tasks' headers and
// an OIDC ID token it signs itself, retrying failures with exponential
// backoff. The JWKS of its signing key is served over plain HTTP on the same
// port as gRPC, at /.well-known/jwks.json, so tasks.Verifier checks real
// signatures locally.
package cloudtasksfake

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// JWKSPath is where the fake serves the public key of the tokens it signs.
const JWKSPath = "/.well-known/jwks.json"

// Option configures a Server.
type Option func(*options)

type options struct {
	delivery *DeliveryConfig
	logger   *slog.Logger
}

// DeliveryConfig turns on delivery and sets the retry policy.
type DeliveryConfig struct {
	// MaxAttempts is the number of attempts before the fake gives up on a
	// task; 0 means 5.
	MaxAttempts int
	// MinBackoff is the wait before the first retry; it doubles with each
	// retry up to MaxBackoff. 0 means 100 ms.
	MinBackoff time.Duration
	// MaxBackoff caps the wait between attempts, including one asked for by
	// a Retry-After header. 0 means 10 s; it is raised to MinBackoff if lower.
	MaxBackoff time.Duration
}

// WithDelivery makes the fake deliver HTTP tasks at their schedule time.
// Without it, tasks are only stored.
func WithDelivery(cfg DeliveryConfig) Option {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	return func(o *options) { o.delivery = &cfg }
}

// WithLogger logs each delivery attempt (task id, attempt, status; never the
// token or body) to l. The default logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// Delivery records one delivery attempt.
type Delivery struct {
	TaskID     string    // the short id, after "/tasks/"
	Attempt    int       // 1 for the first attempt
	StatusCode int       // the response status; 0 for a transport error
	Err        string    // the transport error, if any
	At         time.Time // when the attempt was sent
	GaveUp     bool      // this was the last attempt and it failed
}

// Server is a fake Cloud Tasks gRPC server. It is safe for concurrent use.
type Server struct {
	cloudtaskspb.UnimplementedCloudTasksServer

	addr   string
	opts   options
	key    *rsa.PrivateKey
	kid    string
	jwks   []byte
	client *http.Client
	tr     *http.Transport

	// ctx is cancelled by stop, aborting deliveries in flight.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // armed delivery timers and running attempts

	mu         sync.Mutex
	stopped    bool
	live       map[string]*task    // by full name: created, not yet delivered, given up or deleted
	seen       map[string]struct{} // every name ever created (tombstones)
	created    []*cloudtaskspb.Task
	creates    int
	seq        int
	deliveries []Delivery
	givenUp    []string
	failCreate []codes.Code  // answers of the next CreateTask calls (FailNextCreate)
	changed    chan struct{} // closed and replaced on every state change
}

// task is the server's state of one live task.
type task struct {
	pb        *cloudtaskspb.Task
	id        string
	seq       int
	due       bool        // its schedule time has passed: WaitIdle waits for it
	timer     *time.Timer // the next attempt, when armed
	attempts  int         // dispatches so far
	responses int         // attempts that got a response, 5xx included (response_count)
	execs     int         // responses other than 5xx (X-CloudTasks-TaskExecutionCount)
	finished  bool        // delivered, given up or deleted
}

// Start starts a fake on 127.0.0.1 with an ephemeral port and stops it when
// the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("cloudtasksfake: listen on 127.0.0.1:0: %v", err)
	}
	s, stop := StartListener(lis, opts...)
	t.Cleanup(stop)
	return s
}

// StartListener serves a fake on lis, for use outside tests (local runs):
// gRPC and, on the same port, the JWKS over plain HTTP. The returned function
// stops delivery (cancelling pending attempts and waiting for running ones),
// stops the server and closes lis; it is safe to call more than once.
func StartListener(lis net.Listener, opts ...Option) (*Server, func()) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(fmt.Sprintf("cloudtasksfake: generate signing key: %v", err))
	}
	tr := &http.Transport{
		Proxy:               nil, // deliveries go where the task says, never via a proxy
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		addr:    lis.Addr().String(),
		opts:    o,
		key:     key,
		kid:     keyID(&key.PublicKey),
		client:  &http.Client{Transport: tr, CheckRedirect: noRedirects},
		tr:      tr,
		ctx:     ctx,
		cancel:  cancel,
		live:    make(map[string]*task),
		seen:    make(map[string]struct{}),
		changed: make(chan struct{}),
	}
	s.jwks = s.marshalJWKS()

	gs := grpc.NewServer()
	cloudtaskspb.RegisterCloudTasksServer(gs, s)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+JWKSPath, s.serveJWKS)
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
				gs.ServeHTTP(w, r)
				return
			}
			mux.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		// gRPC clients speak HTTP/2 with prior knowledge over plaintext (h2c);
		// browsers and curl use HTTP/1.1 for the JWKS.
		Protocols: new(http.Protocols),
	}
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetUnencryptedHTTP2(true)
	served := make(chan struct{})
	go func() {
		defer close(served)
		// Serve returns http.ErrServerClosed after Shutdown; any other error
		// means the listener broke, and every later RPC fails on its own.
		_ = hs.Serve(lis)
	}()

	var once sync.Once
	return s, func() {
		once.Do(func() {
			s.stopDelivery()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if hs.Shutdown(ctx) != nil {
				_ = hs.Close()
			}
			gs.Stop()
			<-served
		})
	}
}

// stopDelivery cancels armed timers and in-flight attempts and waits for
// every delivery goroutine to return.
func (s *Server) stopDelivery() {
	s.mu.Lock()
	s.stopped = true
	for _, t := range s.live {
		if t.timer != nil && t.timer.Stop() {
			s.wg.Done() // the timer's function will never run
		}
		t.timer = nil
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.tr.CloseIdleConnections()
}

// Addr returns the host:port the fake listens on, for gRPC and the JWKS.
func (s *Server) Addr() string { return s.addr }

// JWKSURL returns the URL of the fake's JWKS, the same as
// tasks.Config{EmulatorHost: s.Addr()}.JWKSURL().
func (s *Server) JWKSURL() string { return "http://" + s.addr + JWKSPath }

// ClientOptions returns the options that point the real Cloud Tasks client
// at this fake: its endpoint, no credentials and a plaintext connection.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Tasks returns the tasks created so far, in creation order, as they were
// when created (later deliveries or deletions do not change them).
func (s *Server) Tasks() []*cloudtaskspb.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*cloudtaskspb.Task, len(s.created))
	for i, t := range s.created {
		out[i] = proto.Clone(t).(*cloudtaskspb.Task)
	}
	return out
}

// CreateCount returns how many CreateTask calls the fake received, including
// refused ones (duplicates, invalid requests).
func (s *Server) CreateCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creates
}

// Deliveries returns every delivery attempt so far, in the order they ended.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// GivenUp returns the ids of the tasks the fake gave up on after MaxAttempts,
// in order.
func (s *Server) GivenUp() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.givenUp)
}

// ErrStopped is returned by WaitIdle when the server stopped with work left.
var ErrStopped = errors.New("cloudtasksfake: server stopped")

// WaitIdle waits until every due task (its schedule time has passed) has been
// delivered or given up on, including the retries of failed attempts, or ctx
// ends. Tasks scheduled in the future are not waited for. Without delivery it
// returns nil at once.
func (s *Server) WaitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		idle := s.idleLocked()
		stopped := s.stopped
		ch := s.changed
		s.mu.Unlock()
		switch {
		case idle:
			return nil
		case stopped:
			return ErrStopped
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("cloudtasksfake: WaitIdle: %w", ctx.Err())
		}
	}
}

func (s *Server) idleLocked() bool {
	if s.opts.delivery == nil {
		return true
	}
	now := time.Now()
	for _, t := range s.live {
		// A task whose time has come but whose timer has not run yet is due
		// too; its timer notifies when it runs.
		if t.due || !t.pb.GetScheduleTime().AsTime().After(now) {
			return false
		}
	}
	return true
}

// notifyLocked wakes WaitIdle callers.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

var (
	queueNameRE = regexp.MustCompile(`^projects/[A-Za-z0-9.:_-]+/locations/[A-Za-z0-9_-]+/queues/[A-Za-z0-9-]{1,100}$`)
	taskIDRE    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,500}$`)
)

// splitTaskName splits "<queue>/tasks/<id>" and checks both parts.
func splitTaskName(name string) (queue, id string, ok bool) {
	i := strings.LastIndex(name, "/tasks/")
	if i < 0 {
		return "", "", false
	}
	queue, id = name[:i], name[i+len("/tasks/"):]
	return queue, id, queueNameRE.MatchString(queue) && taskIDRE.MatchString(id)
}

// FailNextCreate makes the next n CreateTask calls fail with code (an
// outage of Cloud Tasks, a missing permission); nothing is stored.
func (s *Server) FailNextCreate(n int, code codes.Code) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failCreate = append(s.failCreate, code)
	}
}

// CreateTask implements cloudtaskspb.CloudTasksServer. It stores an HTTP task
// under a valid parent queue, generating a name if none is given, and refuses
// a name it has seen before with codes.AlreadyExists.
func (s *Server) CreateTask(_ context.Context, req *cloudtaskspb.CreateTaskRequest) (*cloudtaskspb.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creates++
	if s.stopped {
		return nil, status.Error(codes.Unavailable, "server stopped")
	}
	if len(s.failCreate) > 0 {
		c := s.failCreate[0]
		s.failCreate = s.failCreate[1:]
		return nil, status.Errorf(c, "injected failure (%s)", c)
	}

	parent := req.GetParent()
	if !queueNameRE.MatchString(parent) {
		return nil, status.Errorf(codes.InvalidArgument, "invalid parent %q, want projects/P/locations/L/queues/Q", parent)
	}
	in := req.GetTask()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "task is required")
	}
	hr := in.GetHttpRequest()
	if hr == nil {
		return nil, status.Error(codes.InvalidArgument, "the fake supports only tasks with an http_request")
	}
	if err := checkHTTPRequest(hr); err != nil {
		return nil, err
	}

	t := proto.Clone(in).(*cloudtaskspb.Task)
	if t.GetName() == "" {
		t.Name = parent + "/tasks/" + rand.Text()
	}
	queue, id, ok := splitTaskName(t.GetName())
	switch {
	case !ok:
		return nil, status.Errorf(codes.InvalidArgument, "invalid task name %q, want %s/tasks/[A-Za-z0-9_-]{1,500}", t.GetName(), parent)
	case queue != parent:
		return nil, status.Errorf(codes.InvalidArgument, "task name %q is not under parent %q", t.GetName(), parent)
	}
	if _, dup := s.seen[t.GetName()]; dup {
		return nil, status.Errorf(codes.AlreadyExists, "task %q already exists or existed", t.GetName())
	}

	now := time.Now()
	if thr := t.GetHttpRequest(); thr.GetHttpMethod() == cloudtaskspb.HttpMethod_HTTP_METHOD_UNSPECIFIED {
		thr.HttpMethod = cloudtaskspb.HttpMethod_POST
	}
	if t.GetScheduleTime() == nil {
		t.ScheduleTime = timestamppb.New(now)
	}
	t.CreateTime = timestamppb.New(now)
	t.DispatchCount, t.ResponseCount = 0, 0
	t.FirstAttempt, t.LastAttempt = nil, nil
	t.View = cloudtaskspb.Task_FULL

	s.seen[t.GetName()] = struct{}{}
	s.created = append(s.created, proto.Clone(t).(*cloudtaskspb.Task))
	s.seq++
	st := &task{pb: t, id: id, seq: s.seq}
	s.live[t.GetName()] = st
	if s.opts.delivery != nil {
		s.armLocked(st, t.GetScheduleTime().AsTime())
		s.notifyLocked()
	}
	return proto.Clone(t).(*cloudtaskspb.Task), nil
}

// checkHTTPRequest checks what delivery needs: an absolute http(s) URL and a
// supported authorization.
func checkHTTPRequest(hr *cloudtaskspb.HttpRequest) error {
	u := hr.GetUrl()
	if !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) || len(u) > 2083 {
		return status.Errorf(codes.InvalidArgument, "http_request.url %q must be an absolute http(s) URL", u)
	}
	if _, err := http.NewRequest(http.MethodPost, u, nil); err != nil {
		return status.Errorf(codes.InvalidArgument, "http_request.url %q: %v", u, err)
	}
	if hr.GetOauthToken() != nil {
		return status.Error(codes.Unimplemented, "the fake does not support oauth_token; use oidc_token")
	}
	if o := hr.GetOidcToken(); o != nil && o.GetServiceAccountEmail() == "" {
		return status.Error(codes.InvalidArgument, "oidc_token.service_account_email is required")
	}
	return nil
}

// GetTask implements cloudtaskspb.CloudTasksServer for live tasks (created,
// not yet delivered, given up on or deleted).
func (s *Server) GetTask(_ context.Context, req *cloudtaskspb.GetTaskRequest) (*cloudtaskspb.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.liveLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	return proto.Clone(t.pb).(*cloudtaskspb.Task), nil
}

// DeleteTask implements cloudtaskspb.CloudTasksServer: it removes a live task
// and cancels its pending delivery. The name stays taken.
func (s *Server) DeleteTask(_ context.Context, req *cloudtaskspb.DeleteTaskRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.liveLocked(req.GetName())
	if err != nil {
		return nil, err
	}
	if t.timer != nil && t.timer.Stop() {
		s.wg.Done()
	}
	s.finishLocked(t)
	return &emptypb.Empty{}, nil
}

// liveLocked returns the live task of name, or the error GetTask and
// DeleteTask answer: InvalidArgument for a malformed name, NotFound for a
// task not live. s.mu must be held.
func (s *Server) liveLocked(name string) (*task, error) {
	if _, _, ok := splitTaskName(name); !ok {
		return nil, status.Errorf(codes.InvalidArgument, "invalid task name %q", name)
	}
	t, ok := s.live[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "task %q not found", name)
	}
	return t, nil
}

// ListTasks implements cloudtaskspb.CloudTasksServer: the live tasks of a
// queue in creation order, paged by page_size (default and maximum 1000).
func (s *Server) ListTasks(_ context.Context, req *cloudtaskspb.ListTasksRequest) (*cloudtaskspb.ListTasksResponse, error) {
	if !queueNameRE.MatchString(req.GetParent()) {
		return nil, status.Errorf(codes.InvalidArgument, "invalid parent %q", req.GetParent())
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, status.Error(codes.InvalidArgument, "negative page_size")
	case size == 0 || size > 1000:
		size = 1000
	}
	offset := 0
	if tok := req.GetPageToken(); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 {
			return nil, status.Errorf(codes.InvalidArgument, "invalid page_token %q", tok)
		}
		offset = n
	}

	s.mu.Lock()
	var all []*task
	for _, t := range s.live {
		if q, _, _ := splitTaskName(t.pb.GetName()); q == req.GetParent() {
			all = append(all, t)
		}
	}
	slices.SortFunc(all, func(a, b *task) int { return a.seq - b.seq })
	resp := &cloudtaskspb.ListTasksResponse{}
	for i := offset; i < len(all) && i < offset+size; i++ {
		resp.Tasks = append(resp.Tasks, proto.Clone(all[i].pb).(*cloudtaskspb.Task))
	}
	s.mu.Unlock()
	if offset+size < len(all) {
		resp.NextPageToken = strconv.Itoa(offset + size)
	}
	return resp, nil
}

// noRedirects makes deliveries see redirects as responses, as Cloud Tasks
// does (a 3xx is a failed attempt).
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
