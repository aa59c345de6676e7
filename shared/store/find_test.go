package store_test

import (
	"slices"
	"testing"
	"time"

	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
)

// FindJobs reads a job id under several accounts at once and returns those
// found, in the accounts' order.
func TestFindJobs(t *testing.T) {
	s, _ := newStore(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	uid, jobID := "uid-"+testenv.RandomID(t), "job-"+testenv.RandomID(t)
	a, b, none := "17841400000000021", "17841400000000022", "17841400000000023"
	for _, acct := range []string{b, a} {
		j := &store.Job{JobID: jobID, UID: uid, AccountID: acct, Kind: "text", Status: store.JobAccepted, RequestHash: "h-" + acct, CreatedAt: now, UpdatedAt: now}
		createJob(t, s, j)
	}
	cases := []struct {
		accounts []string
		want     []string // the found jobs' accounts
	}{
		{[]string{none, a, b}, []string{a, b}},
		{[]string{b, none, a}, []string{b, a}},
		{[]string{none}, nil},
		{nil, nil},
	}
	for _, tc := range cases {
		jobs, err := s.FindJobs(t.Context(), uid, tc.accounts, jobID)
		if err != nil {
			t.Fatalf("FindJobs(%v): %v", tc.accounts, err)
		}
		var got []string
		for _, j := range jobs {
			if j.RequestHash != "h-"+j.AccountID {
				t.Errorf("job under %s has hash %q", j.AccountID, j.RequestHash)
			}
			got = append(got, j.AccountID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("FindJobs(%v) found under %v, want %v", tc.accounts, got, tc.want)
		}
	}
}
