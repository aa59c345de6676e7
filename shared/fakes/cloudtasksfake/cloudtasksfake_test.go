package cloudtasksfake_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"threadsfunctions.dev/shared/fakes/cloudtasksfake"
	"threadsfunctions.dev/shared/tasks"
)

const (
	queue = "projects/demo-threads/locations/europe-west1/queues/publish"
	sa    = "tasks-invoker@demo-threads.iam.gserviceaccount.com"
)

// fastRetries keeps delivery tests short.
func fastRetries() cloudtasksfake.DeliveryConfig {
	return cloudtasksfake.DeliveryConfig{MaxAttempts: 4, MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond}
}

func newClient(t *testing.T, s *cloudtasksfake.Server) *cloudtasks.Client {
	t.Helper()
	c, err := cloudtasks.NewClient(t.Context(), s.ClientOptions()...)
	if err != nil {
		t.Fatalf("cloudtasks.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func httpTask(name, url string) *cloudtaskspb.Task {
	return &cloudtaskspb.Task{
		Name: name,
		MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: &cloudtaskspb.HttpRequest{
			Url:  url,
			Body: []byte(`{}`),
			AuthorizationHeader: &cloudtaskspb.HttpRequest_OidcToken{OidcToken: &cloudtaskspb.OidcToken{
				ServiceAccountEmail: sa,
			}},
		}},
	}
}

func TestCreateTask(t *testing.T) {
	t.Parallel()
	s := cloudtasksfake.Start(t)
	c := newClient(t, s)
	ctx := t.Context()
	const url = "https://example.com/thPublish"

	if _, err := c.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: httpTask(queue+"/tasks/a", url)}); err != nil {
		t.Fatalf("CreateTask(a): %v", err)
	}

	tests := []struct {
		name   string
		parent string
		task   *cloudtaskspb.Task
		want   codes.Code
	}{
		{"new name", queue, httpTask(queue+"/tasks/b", url), codes.OK},
		{"duplicate", queue, httpTask(queue+"/tasks/a", url), codes.AlreadyExists},
		{"generated name", queue, httpTask("", url), codes.OK},
		{"bad parent", "projects/p/queues/q", httpTask("", url), codes.InvalidArgument},
		{"name under another queue", queue, httpTask("projects/demo-threads/locations/europe-west1/queues/other/tasks/c", url), codes.InvalidArgument},
		{"bad task id", queue, httpTask(queue+"/tasks/a.b", url), codes.InvalidArgument},
		{"no task", queue, nil, codes.InvalidArgument},
		{"no http request", queue, &cloudtaskspb.Task{Name: queue + "/tasks/d"}, codes.InvalidArgument},
		{"relative url", queue, httpTask(queue+"/tasks/e", "/thPublish"), codes.InvalidArgument},
	}
	for _, tc := range tests {
		got, err := c.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: tc.parent, Task: tc.task})
		if code := status.Code(err); code != tc.want {
			t.Errorf("%s: CreateTask code = %v (%v), want %v", tc.name, code, err, tc.want)
			continue
		}
		if err == nil && !strings.HasPrefix(got.GetName(), queue+"/tasks/") {
			t.Errorf("%s: created name %q, want under %s", tc.name, got.GetName(), queue)
		}
	}
	if got, want := s.CreateCount(), 1+len(tests); got != want {
		t.Errorf("CreateCount = %d, want %d", got, want)
	}
	created := s.Tasks()
	if len(created) != 3 || created[0].GetName() != queue+"/tasks/a" || created[1].GetName() != queue+"/tasks/b" {
		t.Fatalf("Tasks = %v, want a, b, then the generated one", created)
	}
	if created[0].GetHttpRequest().GetHttpMethod() != cloudtaskspb.HttpMethod_POST {
		t.Errorf("unspecified method stored as %v, want POST", created[0].GetHttpRequest().GetHttpMethod())
	}

	// Get, List, Delete; a deleted name stays taken.
	if got, err := c.GetTask(ctx, &cloudtaskspb.GetTaskRequest{Name: queue + "/tasks/a"}); err != nil || got.GetName() != queue+"/tasks/a" {
		t.Errorf("GetTask(a) = %v, %v", got, err)
	}
	var listed []string
	it := c.ListTasks(ctx, &cloudtaskspb.ListTasksRequest{Parent: queue, PageSize: 2})
	for {
		task, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatalf("ListTasks: %v", err)
		}
		listed = append(listed, task.GetName())
	}
	if len(listed) != 3 || listed[0] != queue+"/tasks/a" || listed[1] != queue+"/tasks/b" {
		t.Errorf("ListTasks = %v, want a, b and the generated one in order", listed)
	}
	if err := c.DeleteTask(ctx, &cloudtaskspb.DeleteTaskRequest{Name: queue + "/tasks/a"}); err != nil {
		t.Fatalf("DeleteTask(a): %v", err)
	}
	if _, err := c.GetTask(ctx, &cloudtaskspb.GetTaskRequest{Name: queue + "/tasks/a"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetTask(deleted) = %v, want NotFound", err)
	}
	if err := c.DeleteTask(ctx, &cloudtaskspb.DeleteTaskRequest{Name: queue + "/tasks/a"}); status.Code(err) != codes.NotFound {
		t.Errorf("DeleteTask(deleted) = %v, want NotFound", err)
	}
	if _, err := c.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: httpTask(queue+"/tasks/a", url)}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("CreateTask(deleted name) = %v, want AlreadyExists (tombstone)", err)
	}
}

// receiver is a task handler that records what it receives and answers
// with statuses chosen per attempt.
type receiver struct {
	srv *httptest.Server
	URL string // srv.URL + "/thPublish"

	// answer returns the status and extra headers for the n-th request (from 1).
	answer func(n int, r *http.Request) (int, http.Header)

	mu   sync.Mutex
	got  []received
	seen chan struct{} // one value per request
}

type received struct {
	header http.Header
	body   string
	at     time.Time
}

func newReceiver(t *testing.T, answer func(n int, r *http.Request) (int, http.Header)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer, seen: make(chan struct{}, 100)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: string(body), at: time.Now()})
		n := len(rc.got)
		rc.mu.Unlock()
		code, h := rc.answer(n, r)
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(code)
		rc.seen <- struct{}{}
	}))
	t.Cleanup(rc.srv.Close)
	rc.URL = rc.srv.URL + "/thPublish"
	return rc
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// waitFor waits for n requests, failing the test after a generous timeout.
func (rc *receiver) waitFor(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for range n {
		select {
		case <-rc.seen:
		case <-timeout:
			t.Fatalf("timed out waiting for %d deliveries; got %d", n, len(rc.received()))
		}
	}
}

func always(code int) func(int, *http.Request) (int, http.Header) {
	return func(int, *http.Request) (int, http.Header) { return code, nil }
}

func waitIdle(t *testing.T, s *cloudtasksfake.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
}

func enqueuer(t *testing.T, s *cloudtasksfake.Server, target string) *tasks.Enqueuer {
	t.Helper()
	e, err := tasks.NewEnqueuer(t.Context(), tasks.Config{Queue: queue, TargetURL: target, ServiceAccount: sa, EmulatorHost: s.Addr()})
	if err != nil {
		t.Fatalf("NewEnqueuer: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func statuses(ds []cloudtasksfake.Delivery) []int {
	var out []int
	for _, d := range ds {
		out = append(out, d.StatusCode)
	}
	return out
}

func TestDeliverySignsTokensTheVerifierAccepts(t *testing.T) {
	t.Parallel()
	s := cloudtasksfake.Start(t, cloudtasksfake.WithDelivery(fastRetries()))
	var rc *receiver
	var verifyErrs []error
	var vmu sync.Mutex
	rc = newReceiver(t, func(_ int, r *http.Request) (int, http.Header) {
		// The JWKS comes from the fake's own port, as in a local run.
		cfg := tasks.Config{EmulatorHost: s.Addr()}
		good := tasks.NewVerifier(rc.URL, sa, cfg.JWKSURL(), nil)
		wrongAud := tasks.NewVerifier("https://elsewhere.example/thPublish", sa, cfg.JWKSURL(), nil)
		err := good.Verify(r.Context(), r)
		vmu.Lock()
		verifyErrs = append(verifyErrs, err, wrongAud.Verify(r.Context(), r))
		vmu.Unlock()
		if err != nil {
			return http.StatusUnauthorized, nil
		}
		return http.StatusOK, nil
	})
	e := enqueuer(t, s, rc.URL)

	if err := e.Enqueue(t.Context(), tasks.Task{ID: "publish-1", Body: []byte(`{"post":"p1"}`)}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	waitIdle(t, s)

	vmu.Lock()
	defer vmu.Unlock()
	if len(verifyErrs) != 2 || verifyErrs[0] != nil {
		t.Fatalf("Verifier errors = %v, want the token accepted", verifyErrs)
	}
	if !errors.Is(verifyErrs[1], tasks.ErrInvalidToken) {
		t.Errorf("Verifier with another audience = %v, want ErrInvalidToken", verifyErrs[1])
	}
	got := rc.received()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	h := got[0].header
	eta := s.Tasks()[0].GetScheduleTime().AsTime()
	for name, want := range map[string]string{
		"Content-Type":                    "application/json",
		"User-Agent":                      "Google-Cloud-Tasks",
		"X-Cloudtasks-Queuename":          "publish",
		"X-Cloudtasks-Taskname":           "publish-1",
		"X-Cloudtasks-Taskretrycount":     "0",
		"X-Cloudtasks-Taskexecutioncount": "0",
		"X-Cloudtasks-Tasketa":            strconv.FormatFloat(float64(eta.UnixMicro())/1e6, 'f', 6, 64),
	} {
		if h.Get(name) != want {
			t.Errorf("header %s = %q, want %q", name, h.Get(name), want)
		}
	}
	if got[0].body != `{"post":"p1"}` {
		t.Errorf("body = %q", got[0].body)
	}
	if ds := s.Deliveries(); len(ds) != 1 || ds[0].TaskID != "publish-1" || ds[0].Attempt != 1 || ds[0].StatusCode != 200 || ds[0].GaveUp {
		t.Errorf("Deliveries = %+v", ds)
	}
}

// TestDeliveryRequest: a stored task's delivery, built for another URL, is
// what the fake would send (headers, body, a token for the task's audience
// that the verifier accepts), and cannot be built for what is not the
// fake's HTTP task.
func TestDeliveryRequest(t *testing.T) {
	t.Parallel()
	s := cloudtasksfake.Start(t) // tasks stored, not delivered
	const target = "https://fn.example.com/thPublish"
	e := enqueuer(t, s, target)
	if err := e.Enqueue(t.Context(), tasks.Task{ID: "job-guard", Body: []byte(`{"jobId":"j"}`), ScheduleTime: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	stored := s.Tasks()
	if len(stored) != 1 {
		t.Fatalf("%d tasks stored, want 1", len(stored))
	}
	req, err := s.DeliveryRequest(t.Context(), stored[0], "http://127.0.0.1:1/elsewhere")
	if err != nil {
		t.Fatalf("DeliveryRequest: %v", err)
	}
	if req.Method != http.MethodPost || req.URL.String() != "http://127.0.0.1:1/elsewhere" {
		t.Errorf("request = %s %s, want POST to the URL given", req.Method, req.URL)
	}
	for name, want := range map[string]string{
		"Content-Type":                "application/json",
		"User-Agent":                  "Google-Cloud-Tasks",
		"X-Cloudtasks-Queuename":      "publish",
		"X-Cloudtasks-Taskname":       "job-guard",
		"X-Cloudtasks-Taskretrycount": "0",
	} {
		if req.Header.Get(name) != want {
			t.Errorf("header %s = %q, want %q", name, req.Header.Get(name), want)
		}
	}
	if body, _ := io.ReadAll(req.Body); string(body) != `{"jobId":"j"}` {
		t.Errorf("body = %q", body)
	}
	// The token is for the task's audience (its target URL), not the URL given.
	if err := tasks.NewVerifier(target, sa, s.JWKSURL(), nil).Verify(t.Context(), req); err != nil {
		t.Errorf("token refused for the task's audience: %v", err)
	}
	if _, err := s.DeliveryRequest(t.Context(), &cloudtaskspb.Task{Name: "not-a-task"}, "http://127.0.0.1:1/"); err == nil {
		t.Error("DeliveryRequest accepted a task the fake does not hold the shape of")
	}
}

func TestDeliveryAudienceDefaultsToURL(t *testing.T) {
	t.Parallel()
	s := cloudtasksfake.Start(t, cloudtasksfake.WithDelivery(fastRetries()))
	var rc *receiver
	rc = newReceiver(t, func(_ int, r *http.Request) (int, http.Header) {
		if err := tasks.NewVerifier(rc.URL, sa, s.JWKSURL(), nil).Verify(r.Context(), r); err != nil {
			return http.StatusUnauthorized, nil
		}
		return http.StatusNoContent, nil
	})
	c := newClient(t, s)
	if _, err := c.CreateTask(t.Context(), &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: httpTask("", rc.URL)}); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	waitIdle(t, s)
	if got := statuses(s.Deliveries()); !slices.Equal(got, []int{204}) {
		t.Errorf("statuses = %v, want [204]", got)
	}
}

func TestDeliveryRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		answers      []int
		wantRetries  []string // X-CloudTasks-TaskRetryCount per attempt
		wantExecs    []string // X-CloudTasks-TaskExecutionCount per attempt
		wantStatuses []int
	}{
		{"503 twice then success", []int{503, 503, 200}, []string{"0", "1", "2"}, []string{"0", "0", "0"}, []int{503, 503, 200}},
		{"4xx responses count as executions", []int{429, 500, 200}, []string{"0", "1", "2"}, []string{"0", "1", "1"}, []int{429, 500, 200}},
		{"redirect is a failure", []int{302, 200}, []string{"0", "1"}, []string{"0", "1"}, []int{302, 200}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := cloudtasksfake.Start(t, cloudtasksfake.WithDelivery(fastRetries()))
			rc := newReceiver(t, func(n int, _ *http.Request) (int, http.Header) {
				if tc.answers[n-1] == 302 {
					return 302, http.Header{"Location": {"/elsewhere"}}
				}
				return tc.answers[n-1], nil
			})
			if err := enqueuer(t, s, rc.URL).Enqueue(t.Context(), tasks.Task{ID: "r", Body: []byte(`{}`)}); err != nil {
				t.Fatalf("Enqueue: %v", err)
			}
			waitIdle(t, s)

			ds := s.Deliveries()
			if got := statuses(ds); !slices.Equal(got, tc.wantStatuses) {
				t.Fatalf("statuses = %v, want %v", got, tc.wantStatuses)
			}
			for i, d := range ds {
				if d.Attempt != i+1 || d.GaveUp {
					t.Errorf("delivery %d = %+v, want attempt %d, not given up", i, d, i+1)
				}
			}
			var retries, execs []string
			for _, r := range rc.received() {
				retries = append(retries, r.header.Get("X-CloudTasks-TaskRetryCount"))
				execs = append(execs, r.header.Get("X-CloudTasks-TaskExecutionCount"))
			}
			if !slices.Equal(retries, tc.wantRetries) || !slices.Equal(execs, tc.wantExecs) {
				t.Errorf("retry counts %v, execution counts %v; want %v, %v", retries, execs, tc.wantRetries, tc.wantExecs)
			}
			if len(s.GivenUp()) != 0 {
				t.Errorf("GivenUp = %v, want none", s.GivenUp())
			}
		})
	}
}

// TestGetTaskCountsResponses checks the counts GetTask reports while a task
// waits for its retry: response_count counts every attempt that got a
// response, 5xx included, unlike X-CloudTasks-TaskExecutionCount
// (TestDeliveryRetries).
func TestGetTaskCountsResponses(t *testing.T) {
	t.Parallel()
	s := cloudtasksfake.Start(t, cloudtasksfake.WithDelivery(cloudtasksfake.DeliveryConfig{MaxAttempts: 5, MinBackoff: time.Hour}))
	rc := newReceiver(t, always(http.StatusServiceUnavailable))
	c := newClient(t, s)
	name := queue + "/tasks/counted"
	if _, err := c.CreateTask(t.Context(), &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: httpTask(name, rc.URL)}); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	for deadline := time.Now().Add(30 * time.Second); len(s.Deliveries()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the first attempt")
		}
	}
	got, err := c.GetTask(t.Context(), &cloudtaskspb.GetTaskRequest{Name: name})
	if err != nil {
		t.Fatalf("GetTask: %v", err)
	}
	if got.GetDispatchCount() != 1 || got.GetResponseCount() != 1 {
		t.Errorf("dispatch_count %d, response_count %d; want 1, 1", got.GetDispatchCount(), got.GetResponseCount())
	}
	if code := codes.Code(got.GetLastAttempt().GetResponseStatus().GetCode()); code != codes.Unavailable {
		t.Errorf("last attempt's response status %v, want %v", code, codes.Unavailable)
	}
}

func TestDeliveryHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	s := cloudtasksfake.Start(t, cloudtasksfake.WithDelivery(cloudtasksfake.DeliveryConfig{
		MaxAttempts: 3, MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Second,
	}))
	rc := newReceiver(t, func(n int, _ *http.Request) (int, http.Header) {
		if n == 1 {
			return http.StatusServiceUnavailable, http.Header{"Retry-After": {"1"}}
		}
		return http.StatusOK, nil
	})
	if err := enqueuer(t, s, rc.URL).Enqueue(t.Context(), tasks.Task{ID: "ra", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	waitIdle(t, s)
	got := rc.received()
	if len(got) != 2 {
		t.Fatalf("%d attempts, want 2", len(got))
	}
	// Without Retry-After the retry would come after 5 ms.
	if gap := got[1].at.Sub(got[0].at); gap < 950*time.Millisecond {
		t.Errorf("retry came %v after the 503 with Retry-After: 1, want about 1 s", gap)
	}
}

func TestDeliveryCapsRetryAfterAtMaxBackoff(t *testing.T) {
	t.Parallel()
	s := cloudtasksfake.Start(t, cloudtasksfake.WithDelivery(cloudtasksfake.DeliveryConfig{
		MaxAttempts: 3, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}))
	rc := newReceiver(t, func(n int, _ *http.Request) (int, http.Header) {
		if n == 1 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"3600"}}
		}
		return http.StatusOK, nil
	})
	if err := enqueuer(t, s, rc.URL).Enqueue(t.Context(), tasks.Task{ID: "cap", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	waitIdle(t, s) // would time out if the hour were honoured
	if got := statuses(s.Deliveries()); !slices.Equal(got, []int{429, 200}) {
		t.Errorf("statuses = %v, want [429 200]", got)
	}
}

func TestScheduleTimeDelaysDelivery(t *testing.T) {
	t.Parallel()
	s := cloudtasksfake.Start(t, cloudtasksfake.WithDelivery(fastRetries()))
	rc := newReceiver(t, always(http.StatusOK))
	e := enqueuer(t, s, rc.URL)

	// Far enough ahead that "now" is delivered first on a busy machine.
	later := time.Now().Add(2 * time.Second)
	if err := e.Enqueue(t.Context(), tasks.Task{ID: "later", Body: []byte(`{}`), ScheduleTime: later}); err != nil {
		t.Fatalf("Enqueue(later): %v", err)
	}
	if err := e.Enqueue(t.Context(), tasks.Task{ID: "now", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("Enqueue(now): %v", err)
	}
	rc.waitFor(t, 2)

	got := rc.received()
	var order []string
	for _, r := range got {
		order = append(order, r.header.Get("X-CloudTasks-TaskName"))
	}
	if !slices.Equal(order, []string{"now", "later"}) {
		t.Fatalf("delivery order = %v, want [now later]", order)
	}
	if got[1].at.Before(later.Add(-5 * time.Millisecond)) {
		t.Errorf("'later' delivered at %v, before its schedule time %v", got[1].at, later)
	}
	waitIdle(t, s)
	if n := len(s.Deliveries()); n != 2 {
		t.Errorf("%d delivery attempts, want 2", n)
	}
}

func TestWaitIdleIgnoresFutureTasks(t *testing.T) {
	t.Parallel()
	s := cloudtasksfake.Start(t, cloudtasksfake.WithDelivery(fastRetries()))
	rc := newReceiver(t, always(http.StatusOK))
	if err := enqueuer(t, s, rc.URL).Enqueue(t.Context(), tasks.Task{ID: "tomorrow", Body: []byte(`{}`), ScheduleTime: time.Now().Add(24 * time.Hour)}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	waitIdle(t, s) // must not wait a day
	if n := len(s.Deliveries()); n != 0 {
		t.Errorf("%d deliveries, want 0", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.WaitIdle(ctx); err != nil {
		t.Errorf("WaitIdle(cancelled ctx) while idle = %v, want nil", err)
	}
}

func TestWaitIdleHonoursContext(t *testing.T) {
	t.Parallel()
	s := cloudtasksfake.Start(t, cloudtasksfake.WithDelivery(fastRetries()))
	release := make(chan struct{})
	rc := newReceiver(t, func(int, *http.Request) (int, http.Header) {
		<-release
		return http.StatusOK, nil
	})
	t.Cleanup(func() { close(release) })
	if err := enqueuer(t, s, rc.URL).Enqueue(t.Context(), tasks.Task{ID: "slow", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := s.WaitIdle(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitIdle with a delivery in flight = %v, want DeadlineExceeded", err)
	}
}

func TestDeliveryGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	s := cloudtasksfake.Start(t, cloudtasksfake.WithDelivery(cloudtasksfake.DeliveryConfig{
		MaxAttempts: 3, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
	}))
	rc := newReceiver(t, always(http.StatusInternalServerError))
	e := enqueuer(t, s, rc.URL)
	if err := e.Enqueue(t.Context(), tasks.Task{ID: "doomed", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	waitIdle(t, s)

	ds := s.Deliveries()
	if got := statuses(ds); !slices.Equal(got, []int{500, 500, 500}) {
		t.Fatalf("statuses = %v, want three 500s", got)
	}
	if !ds[2].GaveUp || ds[0].GaveUp || ds[1].GaveUp {
		t.Errorf("GaveUp flags = %v %v %v, want only the last", ds[0].GaveUp, ds[1].GaveUp, ds[2].GaveUp)
	}
	if got := s.GivenUp(); !slices.Equal(got, []string{"doomed"}) {
		t.Errorf("GivenUp = %v, want [doomed]", got)
	}
	if n := len(rc.received()); n != 3 {
		t.Errorf("handler saw %d requests, want 3", n)
	}
	c := newClient(t, s)
	if _, err := c.GetTask(t.Context(), &cloudtaskspb.GetTaskRequest{Name: queue + "/tasks/doomed"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetTask(given up) = %v, want NotFound", err)
	}
	if err := e.Enqueue(t.Context(), tasks.Task{ID: "doomed", Body: []byte(`{}`)}); !errors.Is(err, tasks.ErrAlreadyQueued) {
		t.Errorf("Enqueue(given-up name) = %v, want ErrAlreadyQueued", err)
	}
}

func TestDeliveryRetriesTransportErrors(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1 (a closed listener's port could be taken
	// by a parallel test's server meanwhile).
	dead := "http://127.0.0.1:1/thPublish"

	s := cloudtasksfake.Start(t, cloudtasksfake.WithDelivery(cloudtasksfake.DeliveryConfig{
		MaxAttempts: 2, MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond,
	}))
	if err := enqueuer(t, s, dead).Enqueue(t.Context(), tasks.Task{ID: "unreachable", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	waitIdle(t, s)
	ds := s.Deliveries()
	if len(ds) != 2 || ds[0].StatusCode != 0 || ds[0].Err == "" || !ds[1].GaveUp {
		t.Fatalf("Deliveries = %+v, want two transport errors, then given up", ds)
	}
	for _, d := range ds {
		if strings.Contains(d.Err, "Bearer") || strings.Contains(d.Err, "eyJ") {
			t.Errorf("delivery error %q leaks the token", d.Err)
		}
	}
}

func TestDeleteTaskCancelsDelivery(t *testing.T) {
	t.Parallel()
	s := cloudtasksfake.Start(t, cloudtasksfake.WithDelivery(fastRetries()))
	rc := newReceiver(t, always(http.StatusOK))
	c := newClient(t, s)
	task := httpTask(queue+"/tasks/cancelled", rc.URL)
	// Far enough ahead for the create and the delete on a busy machine.
	due := time.Now().Add(time.Second)
	task.ScheduleTime = timestamppb.New(due)
	if _, err := c.CreateTask(t.Context(), &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: task}); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	if err := c.DeleteTask(t.Context(), &cloudtaskspb.DeleteTaskRequest{Name: task.GetName()}); err != nil {
		t.Fatalf("DeleteTask: %v", err)
	}
	time.Sleep(time.Until(due) + 200*time.Millisecond) // past the schedule time
	if n := len(rc.received()); n != 0 {
		t.Errorf("deleted task delivered %d times", n)
	}
}

func TestJWKSServedOverHTTPOnTheSamePort(t *testing.T) {
	t.Parallel()
	s := cloudtasksfake.Start(t)
	if want := (tasks.Config{EmulatorHost: s.Addr()}).JWKSURL(); s.JWKSURL() != want {
		t.Errorf("JWKSURL = %q, want %q", s.JWKSURL(), want)
	}
	resp, err := http.Get(s.JWKSURL())
	if err != nil {
		t.Fatalf("GET JWKS: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	var set struct {
		Keys []struct{ Kty, Alg, Kid, N, E string } `json:"keys"`
	}
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 1 {
		t.Fatalf("GET JWKS: %s %s", resp.Proto, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	if len(set.Keys) != 1 || set.Keys[0].Kty != "RSA" || set.Keys[0].Alg != "RS256" || set.Keys[0].Kid == "" || set.Keys[0].E != "AQAB" {
		t.Errorf("JWKS = %+v", set)
	}

	// Tokens from IDToken verify against it; the gRPC API keeps working alongside.
	tok, err := s.IDToken("https://a.example/x", sa)
	if err != nil {
		t.Fatalf("IDToken: %v", err)
	}
	r := httptest.NewRequest(http.MethodPost, "/x", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	if err := tasks.NewVerifier("https://a.example/x", sa, s.JWKSURL(), nil).Verify(t.Context(), r); err != nil {
		t.Errorf("Verify(IDToken) = %v", err)
	}
	if _, err := newClient(t, s).CreateTask(t.Context(), &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: httpTask("", "https://a.example/x")}); err != nil {
		t.Errorf("CreateTask after HTTP traffic: %v", err)
	}

	nf, err := http.Get("http://" + s.Addr() + "/nope")
	if err != nil {
		t.Fatalf("GET /nope: %v", err)
	}
	_ = nf.Body.Close()
	if nf.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", nf.StatusCode)
	}
}

// TestStopLeavesNothingRunning is not parallel: it counts goroutines.
func TestStopLeavesNothingRunning(t *testing.T) {
	before := runtime.NumGoroutine()

	entered := make(chan struct{}, 1)
	handler := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client hanging up
		select {                           // a retry must not block here: Close would wait on it for ever
		case entered <- struct{}{}:
		default:
		}
		<-r.Context().Done() // held until the fake gives up on the request
	}))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, stop := cloudtasksfake.StartListener(lis, cloudtasksfake.WithDelivery(fastRetries()))
	c, err := cloudtasks.NewClient(t.Context(), s.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	future := httpTask(queue+"/tasks/future", handler.URL)
	future.ScheduleTime = timestamppb.New(time.Now().Add(time.Hour))
	for _, task := range []*cloudtaskspb.Task{future, httpTask(queue+"/tasks/inflight", handler.URL)} {
		if _, err := c.CreateTask(t.Context(), &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: task}); err != nil {
			t.Fatalf("CreateTask: %v", err)
		}
	}
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("in-flight delivery never arrived")
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- s.WaitIdle(context.Background()) }()
	_ = c.Close()

	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("stop did not return: it waits on the in-flight delivery or the hour-long timer")
	}
	stop() // idempotent
	if err := <-waitErr; !errors.Is(err, cloudtasksfake.ErrStopped) {
		t.Errorf("WaitIdle across stop = %v, want ErrStopped", err)
	}
	handler.Close()

	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after stop, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
