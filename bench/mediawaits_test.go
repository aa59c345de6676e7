package main

import (
	"testing"
	"time"

	"threadsfunctions.dev/shared/threads/threadstest"
)

func TestMediaWaits(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	call := func(endpoint string, start, end int) threadsCall {
		return threadsCall{Endpoint: endpoint, Start: at(start), End: at(end)}
	}
	tests := []struct {
		name                 string
		calls                []threadsCall
		wantFirst, wantAfter time.Duration
		wantReads            int
		wantOK               bool
	}{
		{"text: no status read", []threadsCall{
			call(threadstest.EndpointCreate, 0, 50), call(threadstest.EndpointPublish, 55, 105),
		}, 0, 0, 0, false},
		{"video read twice, listed out of order", []threadsCall{
			call(threadstest.EndpointPublish, 1120, 1170),
			call(threadstest.EndpointCreate, 0, 50),
			call(threadstest.EndpointStatus, 1060, 1110),
			call(threadstest.EndpointStatus, 53, 103),
		}, 3 * time.Millisecond, 10 * time.Millisecond, 2, true},
		{"carousel: the first read after the last item's creation", []threadsCall{
			call(threadstest.EndpointCreate, 0, 50), call(threadstest.EndpointCreate, 1, 52),
			call(threadstest.EndpointStatus, 54, 104), call(threadstest.EndpointStatus, 54, 105),
			call(threadstest.EndpointCreate, 106, 156),
			call(threadstest.EndpointStatus, 157, 207),
			call(threadstest.EndpointPublish, 210, 260),
		}, 2 * time.Millisecond, 3 * time.Millisecond, 3, true},
	}
	for _, tc := range tests {
		first, after, reads, ok := mediaWaits(tc.calls)
		if first != tc.wantFirst || after != tc.wantAfter || reads != tc.wantReads || ok != tc.wantOK {
			t.Errorf("%s: mediaWaits = %v, %v, %d, %v; want %v, %v, %d, %v", tc.name, first, after, reads, ok, tc.wantFirst, tc.wantAfter, tc.wantReads, tc.wantOK)
		}
	}
}
