package publish_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/store"
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
