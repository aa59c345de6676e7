package tasks_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"

	"threadsfunctions.dev/shared/fakes/cloudtasksfake"
	"threadsfunctions.dev/shared/tasks"
)

const testQueue = "projects/demo-threads/locations/europe-west1/queues/publish"

func testConfig() tasks.Config {
	return tasks.Config{Queue: testQueue, TargetURL: testAudience, ServiceAccount: testSA}
}

func newEnqueuer(t *testing.T, fake *cloudtasksfake.Server, cfg tasks.Config) *tasks.Enqueuer {
	t.Helper()
	e, err := tasks.NewEnqueuer(t.Context(), cfg, fake.ClientOptions()...)
	if err != nil {
		t.Fatalf("NewEnqueuer: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestEnqueueCreatesHTTPTask(t *testing.T) {
	t.Parallel()
	fake := cloudtasksfake.Start(t)
	e := newEnqueuer(t, fake, testConfig())

	when := time.Now().Add(90 * time.Second).Truncate(time.Microsecond)
	body := []byte(`{"uid":"u1","post":"p1"}`)
	if err := e.Enqueue(t.Context(), tasks.Task{ID: "publish-u1-p1_2", Body: body, ScheduleTime: when}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}

	got := fake.Tasks()
	if len(got) != 1 {
		t.Fatalf("fake has %d tasks, want 1", len(got))
	}
	task := got[0]
	if want := testQueue + "/tasks/publish-u1-p1_2"; task.GetName() != want {
		t.Errorf("name = %q, want %q", task.GetName(), want)
	}
	if !task.GetScheduleTime().AsTime().Equal(when) {
		t.Errorf("schedule time = %v, want %v", task.GetScheduleTime().AsTime(), when)
	}
	hr := task.GetHttpRequest()
	if hr == nil {
		t.Fatal("task has no http_request")
	}
	if hr.GetUrl() != testAudience {
		t.Errorf("url = %q, want %q", hr.GetUrl(), testAudience)
	}
	if hr.GetHttpMethod() != cloudtaskspb.HttpMethod_POST {
		t.Errorf("method = %v, want POST", hr.GetHttpMethod())
	}
	if string(hr.GetBody()) != string(body) {
		t.Errorf("body = %q, want %q", hr.GetBody(), body)
	}
	if ct := hr.GetHeaders()["Content-Type"]; ct != "application/json" {
		t.Errorf("Content-Type header = %q, want application/json", ct)
	}
	oidc := hr.GetOidcToken()
	if oidc.GetServiceAccountEmail() != testSA || oidc.GetAudience() != testAudience {
		t.Errorf("oidc_token = {email %q, audience %q}, want {%q, %q}", oidc.GetServiceAccountEmail(), oidc.GetAudience(), testSA, testAudience)
	}
}

func TestEnqueueZeroScheduleTimeMeansNow(t *testing.T) {
	t.Parallel()
	fake := cloudtasksfake.Start(t)
	e := newEnqueuer(t, fake, testConfig())

	before := time.Now()
	if err := e.Enqueue(t.Context(), tasks.Task{ID: "now", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	after := time.Now()
	got := fake.Tasks()[0].GetScheduleTime().AsTime()
	// The fake stamps an unset schedule time with its clock, as Cloud Tasks does.
	if got.Before(before.Add(-time.Second)) || got.After(after.Add(time.Second)) {
		t.Errorf("schedule time = %v, want between %v and %v", got, before, after)
	}
}

func TestEnqueueDedup(t *testing.T) {
	t.Parallel()
	fake := cloudtasksfake.Start(t)
	e := newEnqueuer(t, fake, testConfig())
	task := tasks.Task{ID: "publish-abc", Body: []byte(`{"n":1}`)}

	if err := e.Enqueue(t.Context(), task); err != nil {
		t.Fatalf("first Enqueue: %v", err)
	}
	task.Body = []byte(`{"n":2}`)
	err := e.Enqueue(t.Context(), task)
	if !errors.Is(err, tasks.ErrAlreadyQueued) {
		t.Fatalf("second Enqueue = %v, want ErrAlreadyQueued", err)
	}
	if got := fake.CreateCount(); got != 2 {
		t.Errorf("CreateCount = %d, want 2 (the second call reached the server)", got)
	}
	if got := fake.Tasks(); len(got) != 1 || string(got[0].GetHttpRequest().GetBody()) != `{"n":1}` {
		t.Errorf("tasks = %v, want only the first", got)
	}
	// A different ID is a different task.
	if err := e.Enqueue(t.Context(), tasks.Task{ID: "publish-abd", Body: []byte(`{}`)}); err != nil {
		t.Errorf("Enqueue(other ID): %v", err)
	}
}

func TestEnqueueRejectsBadTasks(t *testing.T) {
	t.Parallel()
	fake := cloudtasksfake.Start(t)
	e := newEnqueuer(t, fake, testConfig())

	tests := []struct {
		name string
		task tasks.Task
	}{
		{"empty ID", tasks.Task{Body: []byte(`{}`)}},
		{"slash in ID", tasks.Task{ID: "a/b", Body: []byte(`{}`)}},
		{"dot in ID", tasks.Task{ID: "a.b", Body: []byte(`{}`)}},
		{"non-ASCII ID", tasks.Task{ID: "pübl", Body: []byte(`{}`)}},
		{"colon, at, backquote, brackets in ID", tasks.Task{ID: "a:@`[{", Body: []byte(`{}`)}},
		{"space in ID", tasks.Task{ID: "a b", Body: []byte(`{}`)}},
		{"ID too long", tasks.Task{ID: strings.Repeat("a", 501), Body: []byte(`{}`)}},
		{"body not JSON", tasks.Task{ID: "ok", Body: []byte(`uid=1`)}},
		{"empty body", tasks.Task{ID: "ok"}},
	}
	for _, tc := range tests {
		if err := e.Enqueue(t.Context(), tc.task); err == nil || errors.Is(err, tasks.ErrAlreadyQueued) {
			t.Errorf("%s: Enqueue = %v, want a validation error", tc.name, err)
		}
	}
	if got := fake.CreateCount(); got != 0 {
		t.Errorf("CreateCount = %d, want 0: invalid tasks must not reach the server", got)
	}
	if err := e.Enqueue(t.Context(), tasks.Task{ID: strings.Repeat("a", 500), Body: []byte(`{}`)}); err != nil {
		t.Errorf("Enqueue(500-character ID) = %v, want nil", err)
	}
	if err := e.Enqueue(t.Context(), tasks.Task{ID: "AZaz09_-", Body: []byte(`{}`)}); err != nil {
		t.Errorf("Enqueue(every class of character) = %v, want nil", err)
	}
}

func TestEnqueueOtherErrorsAreNotDedup(t *testing.T) {
	t.Parallel()
	fake := cloudtasksfake.Start(t)
	e := newEnqueuer(t, fake, testConfig())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := e.Enqueue(ctx, tasks.Task{ID: "x", Body: []byte(`{}`)})
	if err == nil || errors.Is(err, tasks.ErrAlreadyQueued) {
		t.Fatalf("Enqueue(cancelled ctx) = %v, want a non-dedup error", err)
	}
}

func TestNewEnqueuerWithEmulatorHost(t *testing.T) {
	t.Parallel()
	fake := cloudtasksfake.Start(t)
	cfg := tasks.Config{
		Queue:          testQueue,
		TargetURL:      "http://127.0.0.1:9/thPublish", // http is allowed with an emulator
		ServiceAccount: testSA,
		EmulatorHost:   fake.Addr(),
	}
	e, err := tasks.NewEnqueuer(t.Context(), cfg) // no client options: EmulatorHost alone must do
	if err != nil {
		t.Fatalf("NewEnqueuer: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	if err := e.Enqueue(t.Context(), tasks.Task{ID: "t1", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if got := fake.CreateCount(); got != 1 {
		t.Errorf("CreateCount = %d, want 1", got)
	}
}

func TestNewEnqueuerRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.TargetURL = "http://example.com/thPublish"
	if _, err := tasks.NewEnqueuer(t.Context(), cfg); err == nil {
		t.Fatal("NewEnqueuer(http target without emulator) = nil error")
	}
}
