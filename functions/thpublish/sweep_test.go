package thpublish_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
)

type sweepAnswer struct {
	OK       bool `json:"ok"`
	Overdue  int  `json:"overdue"`
	Enqueued int  `json:"enqueued"`
	Cleared  int  `json:"cleared"`
	Error    struct {
		Code string `json:"code"`
	} `json:"error"`
}

// sweep calls thPublish as Cloud Scheduler does (POST ?sweep=1, no body),
// with the given Authorization header.
func (h *harness) sweep(authz string) (int, sweepAnswer) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.url+"?sweep=1", nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a sweepAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		h.t.Fatalf("sweep answer not JSON: %q", b)
	}
	return resp.StatusCode, a
}

// TestSweepHandsOnOverdueJobs: the scheduled sweep finds the jobs nobody is
// going to take up (an attempt whose instance died, a follow-up task never
// created), hands each to Cloud Tasks once however often it runs, and
// leaves alone the jobs whose attempt or task is still to come; the tasks
// then publish each post once.
func TestSweepHandsOnOverdueJobs(t *testing.T) {
	h := newHarnessWith(t, harnessOptions{ownProject: true, holdTasks: true})
	acct := "17841400000000020"
	h.connect(acct)
	now := time.Now().UTC()
	uid := h.user.UID
	mk := func(text string, j store.Job) *store.Job {
		t.Helper()
		req := publish.Request{Text: text}
		b, _ := json.Marshal(req)
		j.JobID, j.UID, j.AccountID, j.Kind, j.Text, j.Request, j.RequestHash = "k"+strings.Repeat("0", 16)+testenv.RandomID(t), uid, acct, "text", text, string(b), req.Hash()
		j.CreatedAt, j.UpdatedAt = now.Add(-time.Hour), now.Add(-time.Hour)
		if _, created, err := h.store.CreateJob(t.Context(), &j); err != nil || !created {
			t.Fatalf("CreateJob: %v, %v", created, err)
		}
		return &j
	}
	dead := mk("its instance died", store.Job{Status: store.JobAccepted, LeaseOwner: "dead", LeaseUntil: now.Add(-2 * time.Minute), Attempts: 1})
	orphan := mk("its task was never created", store.Job{Status: store.JobAccepted, DueBy: now.Add(-5 * time.Minute), Attempts: 1})
	running := mk("still running", store.Job{Status: store.JobAccepted, LeaseOwner: "live", LeaseUntil: now.Add(time.Minute), Attempts: 1})
	justLate := mk("its task is a little late", store.Job{Status: store.JobAccepted, DueBy: now.Add(-10 * time.Second), Attempts: 1})
	ended := mk("ended, still due", store.Job{Status: store.JobPublished, MediaID: "1789", DueBy: now.Add(-time.Hour), Attempts: 1})
	// Cancelled while an attempt was publishing it: the cancel kept that
	// attempt's lease. One attempt died without giving it up (the sweep
	// does); the other's lease runs yet, so its job is not overdue
	// (store.TestKeptLeaseStaysDue has ClearDueBy leave such a lease alone).
	keptDead := mk("cancelled mid-publish, its attempt died", store.Job{Status: store.JobCancelled, ContainerID: "17900000000000001",
		LeaseOwner: "dead-publisher", LeaseUntil: now.Add(-2 * time.Minute), Attempts: 1})
	keptLive := mk("cancelled mid-publish, its attempt running", store.Job{Status: store.JobCancelled, ContainerID: "17900000000000002",
		LeaseOwner: "live-publisher", LeaseUntil: now.Add(time.Minute), Attempts: 1})

	tok, err := h.tasks.IDToken(h.url, invoker)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := h.tasks.IDToken("https://wrong.example/", invoker)
	for name, authz := range map[string]string{
		"no token":       "",
		"user id token":  "Bearer " + h.user.IDToken,
		"wrong audience": "Bearer " + forged,
	} {
		if code, a := h.sweep(authz); code != http.StatusUnauthorized || a.Error.Code != "task_unauthorized" {
			t.Errorf("%s: %d %+v", name, code, a)
		}
	}
	if n := h.tasks.CreateCount(); n != 0 {
		t.Fatalf("refused sweeps created %d tasks", n)
	}

	// Twice before any task has run: one task per overdue job all the same.
	for i := range 2 {
		code, a := h.sweep("Bearer " + tok)
		if want := (sweepAnswer{OK: true, Overdue: 4 - 2*i, Enqueued: 2, Cleared: 2 - 2*i}); code != http.StatusOK || a != want {
			t.Fatalf("sweep %d: %d %+v, want %+v", i+1, code, a, want)
		}
	}
	tasks := h.tasks.Tasks()
	names := map[string]bool{}
	for _, task := range tasks {
		names[task.GetName()[strings.LastIndex(task.GetName(), "/")+1:]] = true
	}
	for _, j := range []*store.Job{dead, orphan} {
		if name := j.JobID + "-" + acct + "-sweep-" + strconv.FormatInt(j.DueBy.UnixMilli(), 10); !names[name] {
			t.Errorf("no task %s among %v", name, names)
		}
	}
	if len(tasks) != 2 {
		t.Fatalf("%d tasks, want 2: %v", len(tasks), names)
	}
	if d := h.job(acct, ended.JobID).DueBy; !d.IsZero() {
		t.Errorf("the ended job is still due by %v", d)
	}
	if got := h.job(acct, keptDead.JobID); got.Status != store.JobCancelled || got.LeaseOwner != "" || !got.DueBy.IsZero() {
		t.Errorf("the cancelled job whose attempt died: %s, lease %q, due by %v; want cancelled, no lease, not due",
			got.Status, got.LeaseOwner, got.DueBy)
	}
	if got := h.job(acct, keptLive.JobID); got.LeaseOwner != "live-publisher" || !got.DueBy.Equal(keptLive.LeaseUntil.Truncate(time.Microsecond)) {
		t.Errorf("the cancelled job whose attempt runs: lease %q, due by %v; want its lease kept, due by its end",
			got.LeaseOwner, got.DueBy)
	}

	// Cloud Tasks delivers them: each job published once.
	for _, task := range tasks {
		if code := h.deliver(task); code != http.StatusOK {
			t.Errorf("delivery of %s: %d", task.GetName(), code)
		}
	}
	for _, j := range []*store.Job{dead, orphan} {
		got := h.job(acct, j.JobID)
		if got.Status != store.JobPublished || !got.DueBy.IsZero() {
			t.Errorf("job %q: %s, due by %v", j.Text, got.Status, got.DueBy)
		}
	}
	for _, j := range []*store.Job{running, justLate} {
		if got := h.job(acct, j.JobID); got.Status != store.JobAccepted {
			t.Errorf("job %q was taken up: %s", j.Text, got.Status)
		}
	}
	if n := len(h.threads.Published(acct)); n != 2 {
		t.Errorf("%d posts, want 2", n)
	}
	if code, a := h.sweep("Bearer " + tok); code != http.StatusOK || a != (sweepAnswer{OK: true}) {
		t.Errorf("sweep after the deliveries: %d %+v, want nothing overdue", code, a)
	}
}
