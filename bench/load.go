package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// newClient is the load generator's HTTP client: keep-alive connections,
// one per concurrent client, no redirects followed (thAuthCallback answers
// 302).
func newClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        concurrency * 2,
			MaxIdleConnsPerHost: concurrency * 2,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// requestFunc builds request i of a run, and checkFunc says whether its
// answer is the expected success.
type (
	requestFunc func(ctx context.Context, i int) (*http.Request, error)
	checkFunc   func(resp *http.Response, body []byte) error
)

// loadResult is what a load run measured.
type loadResult struct {
	Requests int
	Errors   int
	// FirstError describes the first failed request.
	FirstError string
	Elapsed    time.Duration
	// Latencies are sorted.
	Latencies []time.Duration
}

// Throughput is successful requests per second.
func (r loadResult) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests-r.Errors) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile (0–100) of the latencies, nearest
// rank.
func (r loadResult) Percentile(p float64) time.Duration {
	return percentile(r.Latencies, p)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(float64(len(sorted))*p/100+0.5) - 1
	k = max(0, min(k, len(sorted)-1))
	return sorted[k]
}

// runLoad sends requests from..from+n-1 with concurrency clients, each
// sending its next request as soon as its previous answer is read.
func runLoad(ctx context.Context, hc *http.Client, from, n, concurrency int, build requestFunc, check checkFunc) loadResult {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		errs     int
		firstErr string
		wg       sync.WaitGroup
	)
	lat := make([]time.Duration, n)
	ok := make([]bool, n)
	fail := func(i int, err error) {
		mu.Lock()
		defer mu.Unlock()
		errs++
		if firstErr == "" {
			firstErr = fmt.Sprintf("request %d: %v", from+i, err)
		}
	}
	start := time.Now()
	for range min(concurrency, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				req, err := build(ctx, from+i)
				if err != nil {
					fail(i, err)
					continue
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					fail(i, err)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if err == nil {
					err = check(resp, body)
				}
				if err != nil {
					fail(i, err)
					continue
				}
				ok[i] = true
			}
		})
	}
	wg.Wait()
	res := loadResult{Requests: n, Errors: errs, FirstError: firstErr, Elapsed: time.Since(start)}
	for i, d := range lat {
		if ok[i] {
			res.Latencies = append(res.Latencies, d)
		}
	}
	slices.Sort(res.Latencies)
	return res
}

// doOnce sends one request and checks its answer.
func doOnce(ctx context.Context, hc *http.Client, req *http.Request, check checkFunc) (*http.Response, []byte, error) {
	resp, err := hc.Do(req.WithContext(ctx))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp, nil, err
	}
	return resp, body, check(resp, body)
}
