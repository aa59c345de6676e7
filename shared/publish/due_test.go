package publish_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/threads/threadstest"
)

// TestReleasedJobsSayWhenTheyAreDue: every way an attempt ends leaves the
// job due by when its next task should have taken it up (thPublish's sweep
// hands it on if none has), or not due at all once it has ended.
func TestReleasedJobsSayWhenTheyAreDue(t *testing.T) {
	publishAt := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	for _, tc := range []struct {
		name string
		// run sets the scene and makes one attempt; it returns the job.
		run func(h *harness) (jobID string, res *publish.Result, err error)
		// after is how long after the attempt the job is due (0: not due);
		// at, when set, is the exact time instead.
		after time.Duration
		at    time.Time
		state publish.State
	}{
		{"published: never", func(h *harness) (string, *publish.Result, error) {
			id := h.newJob(publish.Request{Text: "done"})
			res, err := h.engine.Run(h.t.Context(), h.uid, h.user.ID, id, time.Second)
			return id, res, err
		}, 0, time.Time{}, publish.Done},
		{"failed for good: never", func(h *harness) (string, *publish.Result, error) {
			h.fake.FailNext(threadstest.EndpointCreate, 1, threadstest.Failure{HTTPStatus: 400, Code: 100, Message: "Invalid parameter"})
			id := h.newJob(publish.Request{Text: "refused"})
			res, err := h.engine.Run(h.t.Context(), h.uid, h.user.ID, id, time.Second)
			return id, res, err
		}, 0, time.Time{}, publish.Done},
		{"media still processing: when the next look is due", func(h *harness) (string, *publish.Result, error) {
			h.fake.SetProcessing(1000)
			id := h.newJob(publish.Request{VideoURL: "https://cdn.example.com/long.mp4"})
			res, err := h.engine.Run(h.t.Context(), h.uid, h.user.ID, id, 20*time.Millisecond)
			return id, res, err
		}, publish.WaitingRetry, time.Time{}, publish.Waiting},
		{"transient failure: within Cloud Tasks' longest backoff", func(h *harness) (string, *publish.Result, error) {
			h.fake.FailNext(threadstest.EndpointCreate, 1, threadstest.Failure{HTTPStatus: 503, Code: 2, Message: "Service temporarily unavailable"})
			id := h.newJob(publish.Request{Text: "flaky"})
			res, err := h.engine.Run(h.t.Context(), h.uid, h.user.ID, id, time.Second)
			return id, res, err
		}, publish.MaxTaskBackoff, time.Time{}, publish.Retry},
		{"quota spent: when it frees up", func(h *harness) (string, *publish.Result, error) {
			h.fake.SetQuotaUsage(h.user.ID, threadstest.QuotaTotal)
			id := h.newJob(publish.Request{Text: "over"})
			res, err := h.engine.Run(h.t.Context(), h.uid, h.user.ID, id, time.Second)
			return id, res, err
		}, threadstest.QuotaDuration * time.Second, time.Time{}, publish.QuotaExceeded},
		{"scheduled, delivered early: publishAt", func(h *harness) (string, *publish.Result, error) {
			id := h.newJobAt(publish.Request{Text: "later"}, publishAt)
			res, err := h.engine.Run(h.t.Context(), h.uid, h.user.ID, id, time.Second)
			return id, res, err
		}, 0, publishAt, publish.Scheduled},
		{"attempt stopped (its caller gone): within Cloud Tasks' longest backoff", func(h *harness) (string, *publish.Result, error) {
			h.fake.SetLatency(time.Second)
			id := h.newJob(publish.Request{Text: "cut short"})
			ctx, cancel := context.WithCancel(h.t.Context())
			defer cancel()
			// Gone while Threads takes its time over the container (a
			// timer could fire during a Firestore call instead, whose
			// error is gRPC's Canceled status).
			go func() {
				for h.fake.Calls(threadstest.EndpointCreate) == 0 && ctx.Err() == nil {
					time.Sleep(5 * time.Millisecond)
				}
				cancel()
			}()
			res, err := h.engine.Run(ctx, h.uid, h.user.ID, id, 5*time.Second)
			if !errors.Is(err, context.Canceled) {
				h.t.Fatalf("Run = %+v, %v; want context.Canceled", res, err)
			}
			return id, &publish.Result{State: publish.Retry}, nil
		}, publish.MaxTaskBackoff, time.Time{}, publish.Retry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			before := time.Now()
			id, res, err := tc.run(h)
			after := time.Now()
			if err != nil || res.State != tc.state {
				t.Fatalf("attempt: %+v, %v; want state %v", res, err, tc.state)
			}
			j := h.job(id)
			if j.LeaseOwner != "" {
				t.Errorf("the lease was kept (%s)", j.LeaseOwner)
			}
			switch {
			case !tc.at.IsZero():
				if !j.DueBy.Equal(tc.at) {
					t.Errorf("due by %v, want %v", j.DueBy, tc.at)
				}
			case tc.after == 0:
				if !j.DueBy.IsZero() {
					t.Errorf("due by %v, want no dueBy (status %s)", j.DueBy, j.Status)
				}
			default:
				lo, hi := before.Add(tc.after).Add(-time.Millisecond), after.Add(tc.after).Add(time.Millisecond)
				if j.DueBy.Before(lo) || j.DueBy.After(hi) {
					t.Errorf("due by %v, want between %v and %v", j.DueBy, lo, hi)
				}
			}
		})
	}
}
