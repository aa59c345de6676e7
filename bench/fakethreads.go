package main

import (
	"context"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"threadsfunctions.dev/shared/threads/threadstest"
)

// Fake Threads app the functions are configured with.
const (
	appID       = "1234567890"
	appSecret   = "bench-app-secret-not-real"
	redirectURI = "http://127.0.0.1:8081/thAuthCallback"
)

// threadsCall is one request the fake Threads answered, timed from when its
// request arrived to when its answer was written (the configured latency
// included).
type threadsCall struct {
	Endpoint   string
	Start, End time.Time
}

// fakeThreads serves threadstest's fake Graph API on a loopback port, with
// a latency on every answer, and records every call.
type fakeThreads struct {
	*threadstest.Server
	URL string
	countedServer

	mu    sync.Mutex
	calls []threadsCall
}

func startFakeThreads(latency time.Duration) (*fakeThreads, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ts := threadstest.New(appID, appSecret, redirectURI)
	ts.SetLatency(latency)
	// classify names a request by the endpoint pattern it matches, as
	// threadstest.Calls does.
	classify := http.NewServeMux()
	for _, e := range []string{
		threadstest.EndpointCode, threadstest.EndpointLongLived, threadstest.EndpointMe,
		threadstest.EndpointRefresh, threadstest.EndpointCreate, threadstest.EndpointPublish,
		threadstest.EndpointStatus, threadstest.EndpointLimit,
	} {
		classify.Handle(e, http.NotFoundHandler())
	}
	f := &fakeThreads{Server: ts, URL: "http://" + lis.Addr().String()}
	inner := ts.Handler()
	f.serve(lis, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, pattern := classify.Handler(r)
		if pattern == "" {
			pattern = r.Method + " " + r.URL.Path
		}
		inner.ServeHTTP(w, r)
		f.record(threadsCall{Endpoint: pattern, Start: start, End: time.Now()})
	}))
	return f, nil
}

// countedServer serves a handler on a loopback listener and counts the TCP
// connections clients open to it.
type countedServer struct {
	srv      *http.Server
	served   chan struct{}
	newConns atomic.Int64
}

func (s *countedServer) serve(lis net.Listener, h http.Handler) {
	s.served = make(chan struct{})
	s.srv = &http.Server{
		Handler: h,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.newConns.Add(1)
			}
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(lis)
	}()
}

// NewConnections is how many TCP connections clients opened.
func (s *countedServer) NewConnections() int64 { return s.newConns.Load() }

// close stops the server; answers still in progress (the fake's waiting
// out their latency) end when their connection closes.
func (s *countedServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if s.srv.Shutdown(ctx) != nil {
		_ = s.srv.Close()
	}
	<-s.served
}

func (f *fakeThreads) record(c threadsCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

// mark returns a position in the call log, for callsSince.
func (f *fakeThreads) mark() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// callsSince returns the calls recorded after mark.
func (f *fakeThreads) callsSince(mark int) []threadsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]threadsCall(nil), f.calls[mark:]...)
}

// callCounts counts calls by endpoint.
func callCounts(calls []threadsCall) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		out[c.Endpoint]++
	}
	return out
}

// sequentialRoundTrips counts the round trips a caller waited for one after
// the other: calls that overlap in time count once. It also returns how
// long the caller spent waiting on at least one call.
func sequentialRoundTrips(calls []threadsCall) (int, time.Duration) {
	if len(calls) == 0 {
		return 0, 0
	}
	cs := append([]threadsCall(nil), calls...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].Start.Before(cs[j].Start) })
	n, wait := 1, time.Duration(0)
	start, end := cs[0].Start, cs[0].End
	for _, c := range cs[1:] {
		if c.Start.Before(end) {
			if c.End.After(end) {
				end = c.End
			}
			continue
		}
		wait += end.Sub(start)
		n++
		start, end = c.Start, c.End
	}
	wait += end.Sub(start)
	return n, wait
}
