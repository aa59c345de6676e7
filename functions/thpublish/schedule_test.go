package thpublish_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/threads/threadstest"
)

func (h *harness) cancel(jobID, accountID string) (*http.Response, answer) {
	h.t.Helper()
	q := url.Values{"jobId": {jobID}}
	if accountID != "" {
		q.Set("accountId", accountID)
	}
	return h.do(http.MethodDelete, h.url+"?"+q.Encode(), "", nil)
}

func TestScheduledPostPublishesAtItsTime(t *testing.T) {
	// The test delivers the task itself, at its time: the checks made
	// before then cannot race the stand-in's delivery.
	h := newHarnessWith(t, harnessOptions{holdTasks: true})
	acct := "17841400000000021"
	h.connect(acct)
	at := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	body := `{"text":"on time","publishAt":"` + at.Format(time.RFC3339) + `"}`
	resp, a := h.post(body, map[string]string{"Idempotency-Key": "sched-1"})
	if resp.StatusCode != 202 || !a.OK || a.Status != "scheduled" || a.JobID == "" || a.PublishAt != at.Format(time.RFC3339) {
		t.Fatalf("answer %d %+v", resp.StatusCode, a)
	}
	if j := h.job(acct, a.JobID); j.Status != store.JobScheduled || !j.PublishAt.Equal(at) {
		t.Fatalf("job %+v", j)
	}
	// A repeat while scheduled answers the same, and schedules nothing more.
	if resp, again := h.post(body, map[string]string{"Idempotency-Key": "sched-1"}); resp.StatusCode != 202 || again.JobID != a.JobID || again.Status != "scheduled" {
		t.Fatalf("repeat %d %+v", resp.StatusCode, again)
	}
	if n := h.threads.Calls(threadstest.EndpointCreate) + h.threads.Calls(threadstest.EndpointLimit); n != 0 {
		t.Fatalf("%d Threads calls before the post is due", n)
	}
	time.Sleep(time.Until(at))
	h.deliverAll()
	j := h.job(acct, a.JobID)
	if j.Status != store.JobPublished || len(h.threads.Published(acct)) != 1 {
		t.Fatalf("job %+v", j)
	}
	if j.PublishedAt.Before(at) {
		t.Errorf("published at %v, before %v", j.PublishedAt, at)
	}
	// A repeat once publishAt has passed gets the first request's result,
	// not a refusal of the past time.
	if resp, again := h.post(body, map[string]string{"Idempotency-Key": "sched-1"}); resp.StatusCode != 200 || again.Status != "published" || again.JobID != a.JobID || again.ID != j.MediaID {
		t.Errorf("repeat after publishAt: %d %+v, want 200 published %s", resp.StatusCode, again, j.MediaID)
	}
	if resp, other := h.post(body, map[string]string{"Idempotency-Key": "sched-other"}); resp.StatusCode != 400 || other.Error.Code != "invalid_publish_at" {
		t.Errorf("a new key with a past publishAt: %d %+v, want 400 invalid_publish_at", resp.StatusCode, other)
	}
	scheduled := h.tasksDue("-at")
	for _, due := range scheduled {
		if !due.Equal(at) {
			t.Errorf("task due %v, want %v", due, at)
		}
	}
	if len(scheduled) != 1 {
		t.Errorf("%d scheduled tasks, want 1", len(scheduled))
	}
}

func TestCancelScheduledPost(t *testing.T) {
	// The test delivers the task itself, after the cancels: however slow
	// the machine, the post is not due before them.
	h := newHarnessWith(t, harnessOptions{holdTasks: true})
	acct := "17841400000000022"
	h.connect(acct)
	at := time.Now().Add(time.Second)
	resp, a := h.post(`{"text":"never posted","publishAt":"`+at.UTC().Format(time.RFC3339Nano)+`"}`, nil)
	if resp.StatusCode != 202 {
		t.Fatalf("schedule: %d %+v", resp.StatusCode, a)
	}
	for i := range 2 { // cancelling twice is fine
		resp, c := h.cancel(a.JobID, "")
		if resp.StatusCode != 200 || !c.OK || c.Status != "cancelled" || c.JobID != a.JobID {
			t.Fatalf("cancel %d: %d %+v", i, resp.StatusCode, c)
		}
	}
	// The task is still delivered at its time: it must not publish.
	time.Sleep(time.Until(at))
	queued := h.tasks.Tasks()
	if len(queued) != 1 {
		t.Fatalf("%d tasks queued, want the scheduled post's", len(queued))
	}
	if code := h.deliver(queued[0]); code != http.StatusOK {
		t.Errorf("the task's delivery: %d, want 200 (acknowledged)", code)
	}
	if j := h.job(acct, a.JobID); j.Status != store.JobCancelled || j.Error.Reason != "cancelled_by_owner" || !strings.HasPrefix(j.Error.Message, "Cancelled by its owner") {
		t.Fatalf("job %+v", j)
	}
	if n := len(h.threads.Published(acct)); n != 0 {
		t.Fatalf("%d posts after cancelling", n)
	}

	// Only scheduled jobs can be cancelled, and only the owner's.
	_, done := h.post(`{"text":"already out"}`, nil)
	cases := []struct {
		name, jobID, accountID string
		status                 int
		code                   string
	}{
		{"published job", done.JobID, acct, 409, "job_started"},
		{"unknown job", "k0123456789abcdef0123456789abcdef", acct, 404, "job_not_found"},
		{"malformed job id", "../x", acct, 400, "invalid_job_id"},
		{"no job id", "", acct, 400, "invalid_job_id"},
		{"another account", a.JobID, "17841400000000099", 404, "job_not_found"},
	}
	for _, tc := range cases {
		resp, c := h.cancel(tc.jobID, tc.accountID)
		if resp.StatusCode != tc.status || c.Error.Code != tc.code {
			t.Errorf("%s: %d %+v, want %d %s", tc.name, resp.StatusCode, c, tc.status, tc.code)
		}
	}
	// Task headers do not make a DELETE a task delivery.
	if resp, c := h.do(http.MethodDelete, h.url+"?jobId=k0123456789abcdef0123456789abcdef&accountId="+acct, "",
		map[string]string{"X-CloudTasks-QueueName": "publish", "X-CloudTasks-TaskName": "x"}); resp.StatusCode != 404 || c.Error.Code != "job_not_found" {
		t.Errorf("DELETE with task headers: %d %+v", resp.StatusCode, c)
	}
	other := h.env.SignUp(t)
	req, _ := http.NewRequest(http.MethodDelete, h.url+"?jobId="+a.JobID+"&accountId="+acct, nil)
	req.Header.Set("Authorization", "Bearer "+other.IDToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Errorf("another user's cancel: %v %v", resp.StatusCode, err)
	}
}

// A scheduled post whose task cannot be created is withdrawn and answered
// 503: the caller's retry with the same key then schedules it afresh (a
// job left cancelled would answer that retry 409 job_cancelled).
func TestScheduleFailureLetsTheSameKeyRetry(t *testing.T) {
	h := newHarness(t)
	acct := "17841400000000031"
	h.connect(acct)
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	body := `{"text":"later","publishAt":"` + at + `"}`
	key := newKey(t, "sched")
	jobID := publish.JobIDFor(h.user.UID, key["Idempotency-Key"])

	h.tasks.FailNextCreate(1, codes.Unavailable)
	resp, a := h.post(body, key)
	if resp.StatusCode != 503 || a.Error.Code != "unavailable" {
		t.Fatalf("task creation failing: %d %+v, want 503 unavailable", resp.StatusCode, a)
	}
	if _, err := h.store.GetJob(t.Context(), h.user.UID, acct, jobID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("job after the failed scheduling: %v, want it withdrawn (not found)", err)
	}
	resp, a = h.post(body, key)
	if resp.StatusCode != 202 || a.Status != "scheduled" || a.JobID != jobID {
		t.Fatalf("retry with the same key: %d %+v, want 202 scheduled %s", resp.StatusCode, a, jobID)
	}
	if j := h.job(acct, jobID); j.Status != store.JobScheduled {
		t.Errorf("job status %s, want scheduled", j.Status)
	}
}

// An idempotency key is scoped to its account: the same key for two
// accounts makes two jobs of the same id, and each gets its own task (the
// task names carry the account), so neither waits for the sweep.
func TestSameKeyOnTwoAccountsSchedulesBoth(t *testing.T) {
	h := newHarnessWith(t, harnessOptions{holdTasks: true})
	accts := []string{"17841400000000032", "17841400000000033"}
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	key := newKey(t, "both")
	for _, acct := range accts {
		h.connect(acct)
		resp, a := h.post(`{"text":"later","accountId":"`+acct+`","publishAt":"`+at+`"}`, key)
		if resp.StatusCode != 202 || a.Status != "scheduled" {
			t.Fatalf("account %s: %d %+v", acct, resp.StatusCode, a)
		}
	}
	jobID := publish.JobIDFor(h.user.UID, key["Idempotency-Key"])
	var names []string
	for _, task := range h.tasks.Tasks() {
		names = append(names, task.GetName()[strings.LastIndex(task.GetName(), "/")+1:])
	}
	for _, acct := range accts {
		if !slices.Contains(names, jobID+"-"+acct+"-at") {
			t.Errorf("no task %s-%s-at among %v", jobID, acct, names)
		}
	}
}

func TestScheduleValidation(t *testing.T) {
	h := newHarness(t)
	h.connect("17841400000000023")
	cases := []struct{ body, code string }{
		{`{"text":"x","publishAt":"yesterday"}`, publish.CodeInvalidPublishAt},
		{`{"text":"x","publishAt":"2020-01-01T00:00:00Z"}`, publish.CodeInvalidPublishAt},
		{`{"text":"x","publishAt":"` + time.Now().Add(31*24*time.Hour).UTC().Format(time.RFC3339) + `"}`, publish.CodeInvalidPublishAt},
		// Content is checked when scheduling, with the codes of an immediate publish.
		{`{"text":"` + strings.Repeat("x", 501) + `","publishAt":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`, publish.CodeTextTooLong},
		{`{"thread":["only one"]}`, publish.CodeInvalidThread},
		{`{"text":"x","gif":{"id":"abc","provider":"GIPHY"}}`, "feature_disabled"},
		{`{"text":"x","allowlistedCountryCodes":["XX"]}`, publish.CodeInvalidCountry},
		{`{"text":"x","ghost":true,"replyToId":"1"}`, publish.CodeConflictingFields},
	}
	for _, tc := range cases {
		if resp, a := h.post(tc.body, nil); resp.StatusCode != 400 || a.Error.Code != tc.code {
			t.Errorf("%s: %d %+v, want 400 %s", tc.body, resp.StatusCode, a, tc.code)
		}
	}
	if len(h.tasks.Tasks()) != 0 {
		t.Errorf("tasks created for invalid requests: %d", len(h.tasks.Tasks()))
	}
}

func TestThreadAndSplitAnswerEveryID(t *testing.T) {
	h := newHarnessWith(t, harnessOptions{gifs: true})
	acct := "17841400000000024"
	h.connect(acct)
	resp, a := h.post(`{"thread":["first","second","third"],"gif":{"id":"g1","provider":"GIPHY"}}`, nil)
	if resp.StatusCode != 200 || len(a.IDs) != 3 || a.ID != a.IDs[0] || a.Status != "published" {
		t.Fatalf("thread: %d %+v", resp.StatusCode, a)
	}
	posts := h.threads.Published(acct)
	var ids []string
	for i, p := range posts {
		ids = append(ids, p.MediaID)
		if i > 0 && p.ReplyToID != posts[i-1].MediaID {
			t.Errorf("part %d replies to %q", i, p.ReplyToID)
		}
	}
	if !slices.Equal(ids, a.IDs) || posts[0].GIF == nil || posts[1].GIF != nil {
		t.Errorf("posts %v, answer %v", posts, a.IDs)
	}

	long := strings.Repeat("Sentences go on and on. ", 50) // ~1200 bytes
	resp, a = h.post(`{"text":"`+long+`","split":true,"numberParts":true}`, nil)
	if resp.StatusCode != 200 || len(a.IDs) != 3 {
		t.Fatalf("split: %d %+v", resp.StatusCode, a)
	}
	j := h.job(acct, a.JobID)
	if j.Text != j.Parts[0].Text {
		t.Errorf("job text %q, want the first part's %q", j.Text, j.Parts[0].Text)
	}
	for i, p := range j.Parts {
		if p.Status != "published" || p.MediaID != a.IDs[i] || !strings.HasSuffix(p.Text, ")") {
			t.Errorf("part %d: %+v", i, p)
		}
	}
}
