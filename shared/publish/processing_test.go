package publish_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/threads"
	"threadsfunctions.dev/shared/threads/threadstest"
)

// clock is the real clock moved forward by the test.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// TestMediaStillProcessingFailsInTime: media that Threads keeps processing
// is waited for (the job released, due again) until MaxProcessing after its
// containers were created, then the job fails media_failed, saying so; it
// is not polled until the containers expire a day later. Each kind's clock
// starts at its containers' creation: a carousel's items.
func TestMediaStillProcessingFailsInTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  publish.Request
	}{
		{"video", publish.Request{Text: "a film", VideoURL: "https://cdn.example.com/v.mp4"}},
		{"carousel", publish.Request{Media: []publish.MediaItem{
			{Type: "image", URL: "https://cdn.example.com/a.jpg"}, {Type: "video", URL: "https://cdn.example.com/b.mp4"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			c := &clock{}
			h.engine.Now, h.engine.MaxProcessing = c.now, 30*time.Minute
			h.fake.SetProcessing(1 << 20) // never done
			id := h.newJob(tc.req)
			for _, step := range []time.Duration{0, 10 * time.Minute, 19 * time.Minute} { // up to 29 minutes in
				c.advance(step)
				if res := h.run(id, 20*time.Millisecond); res.State != publish.Waiting {
					t.Fatalf("%v in: %v (job %s, error %+v), want waiting", step, res.State, res.Job.Status, res.Job.Error)
				}
			}
			reads := h.fake.Calls(threadstest.EndpointStatus)
			c.advance(2 * time.Minute) // 31 minutes in
			res := h.run(id, 20*time.Millisecond)
			if res.State != publish.Done || res.Job.Status != store.JobFailed || res.Job.Error == nil ||
				res.Job.Error.Reason != publish.ReasonMediaFailed || !strings.Contains(res.Job.Error.Message, "still processing") {
				t.Fatalf("31 minutes in: %v, job %s, error %+v; want failed media_failed, still processing", res.State, res.Job.Status, res.Job.Error)
			}
			if n := h.fake.Calls(threadstest.EndpointStatus) - reads; n == 0 {
				t.Error("the job failed without reading the containers' status once more")
			}
			if n := len(h.fake.Published(h.user.ID)); n != 0 {
				t.Errorf("%d posts", n)
			}
		})
	}
}

// stallingThreads lets the first skip publish calls through, refuses the
// next refuse of them as not ready (code 24, subcode 4279009), and answers
// the next inProgress status reads IN_PROGRESS; the rest goes to Threads.
type stallingThreads struct {
	publish.Threads
	mu                       sync.Mutex
	skip, refuse, inProgress int
}

func (x *stallingThreads) Publish(ctx context.Context, userID, token, containerID string) (string, error) {
	x.mu.Lock()
	refuse := x.skip == 0 && x.refuse > 0
	switch {
	case x.skip > 0:
		x.skip--
	case refuse:
		x.refuse--
	}
	x.mu.Unlock()
	if refuse {
		return "", &threads.APIError{HTTPStatus: 400, Code: 24, Subcode: 4279009, Message: "Media Not Found"}
	}
	return x.Threads.Publish(ctx, userID, token, containerID)
}

func (x *stallingThreads) ContainerStatus(ctx context.Context, token, id string) (*threads.ContainerStatus, error) {
	x.mu.Lock()
	stall := x.inProgress > 0
	if stall {
		x.inProgress--
	}
	x.mu.Unlock()
	if stall {
		return &threads.ContainerStatus{ID: id, Status: publish.ContainerInProgress}, nil
	}
	return x.Threads.ContainerStatus(ctx, token, id)
}

// TestProcessingBoundIsTheMediasOnly: the bound on processing is for the
// post's media (ContainersAt is the first part's). A chain whose first
// part had media long ago, and whose later text part Threads refuses as
// not ready, then answers IN_PROGRESS for a while, is not failed as
// media_failed: that part is waited for and published.
func TestProcessingBoundIsTheMediasOnly(t *testing.T) {
	h := newHarness(t)
	c := &clock{}
	h.engine.Now, h.engine.MaxProcessing = c.now, 30*time.Minute
	stall := &stallingThreads{Threads: h.engine.Threads, skip: 1, refuse: 1}
	h.engine.Threads = stall
	id := h.newJob(publish.Request{Thread: []string{"first part", "second part"}, ImageURL: "https://cdn.example.com/a.jpg"})
	res := h.run(id, 5*time.Second) // the image, then the second part refused
	if res.Job.Status != store.JobPublishing || res.Job.Part != 1 {
		t.Fatalf("after the first attempt: %s, part %d (error %+v); want the second part publishing", res.Job.Status, res.Job.Part, res.Job.Error)
	}
	c.advance(time.Hour) // the image's containers are an hour old now
	stall.mu.Lock()
	stall.inProgress = 3 // the second part's container, as the next attempt reads it
	stall.mu.Unlock()
	res = h.runUntilDone(id)
	if res.Job.Status != store.JobPublished {
		t.Fatalf("job %s, error %+v; want published", res.Job.Status, res.Job.Error)
	}
	if n := len(h.fake.Published(h.user.ID)); n != 2 {
		t.Errorf("%d posts, want 2", n)
	}
}
