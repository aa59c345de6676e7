package store

import (
	"regexp"
	"strings"
)

// accountIDRe is what an account id may be: Threads user ids are digits,
// and an id is a document id in AccountPath, so nothing that could change
// the path or that Firestore reserves.
var accountIDRe = regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)

// ValidAccountID reports whether id can be a connected account's id: the
// same rule for the callback that stores an account and for the requests
// that name one (thPublish, thDisconnect), so that every account stored can
// be named.
func ValidAccountID(id string) bool {
	reserved := strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__") // Firestore's own ids
	return accountIDRe.MatchString(id) && !reserved
}
