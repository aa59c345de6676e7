package store_test

import (
	"strings"
	"testing"

	"threadsfunctions.dev/shared/store"
)

func TestValidAccountID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"17841400000000001", true},
		{"abc_DEF-123", true},
		{strings.Repeat("1", 64), true},
		{"", false},
		{strings.Repeat("1", 65), false},
		{"a/b", false},
		{"..", false},
		{"1784 1400", false},
		{"1784:1400", false},
		{"é", false},
		{"__x__", false},
		{"__", false},
		{"__x", true},
	} {
		if got := store.ValidAccountID(tc.id); got != tc.want {
			t.Errorf("ValidAccountID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
