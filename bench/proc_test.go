package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestHeadTailKeepsErrors: ERROR lines logged between the head and the tail
// are kept (the first maxErrorLines of them, whole even when a line comes in
// several writes); other lines there are not.
func TestHeadTailKeepsErrors(t *testing.T) {
	t.Parallel()
	info := func(i int) string { return fmt.Sprintf(`{"severity":"INFO","message":"published %d"}`+"\n", i) }
	errLine := func(i int) string { return fmt.Sprintf(`{"severity":"ERROR","message":"request failed %d"}`+"\n", i) }
	filler := strings.Repeat(info(0), headMax/len(info(0))+1) // past the head
	lots := strings.Repeat(info(1), tailMax/len(info(1))+1)   // pushes the middle out of the tail
	tests := []struct {
		name       string
		writes     []string
		wantErrors []string
		notWant    []string
	}{
		{
			name:       "an error in the middle",
			writes:     []string{filler, info(2), errLine(1), lots},
			wantErrors: []string{strings.TrimSpace(errLine(1))},
			notWant:    []string{"published 2"},
		},
		{
			name:       "an error split over writes",
			writes:     []string{filler, errLine(7)[:10], errLine(7)[10:25], errLine(7)[25:], lots},
			wantErrors: []string{strings.TrimSpace(errLine(7))},
		},
		{
			name:    "no error",
			writes:  []string{filler, info(3), lots},
			notWant: []string{"errors logged", "published 3"},
		},
		{
			name: "only the first ones",
			writes: func() []string {
				w := []string{filler}
				for i := range maxErrorLines + 5 {
					w = append(w, errLine(100+i))
				}
				return append(w, lots)
			}(),
			wantErrors: []string{"request failed 100", fmt.Sprintf("request failed %d", 100+maxErrorLines-1)},
			notWant:    []string{fmt.Sprintf("request failed %d", 100+maxErrorLines)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h headTail
			for _, w := range tc.writes {
				if _, err := h.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
			}
			got := h.String()
			for _, want := range tc.wantErrors {
				if !strings.Contains(got, want) {
					t.Errorf("logs do not keep %q", want)
				}
			}
			for _, nw := range tc.notWant {
				if strings.Contains(got, nw) {
					t.Errorf("logs keep %q", nw)
				}
			}
		})
	}
}
