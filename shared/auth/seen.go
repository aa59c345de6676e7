package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// maxSeenTokens bounds the tokens an instance remembers (a few hundred bytes
// each). An app sends the same ID token on every call for up to an hour, so
// an instance sees far fewer distinct tokens than requests.
const maxSeenTokens = 1024

// seenTokens remembers the claims of ID tokens whose signature (against the
// emulator: whose shape) was checked, until they expire, so that a token
// sent again is not decoded and RS256-verified again (~50 µs of CPU each,
// more than the rest of the check). Only that is skipped: the claims' times
// and the Auth backend's revocation and disabled-user checks run on every
// request. Tokens are keyed by their SHA-256, so none is kept.
type seenTokens struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]idClaims
}

func tokenKey(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// get returns the claims of a token seen before.
func (s *seenTokens) get(key [sha256.Size]byte) (idClaims, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[key]
	return c, ok
}

// add remembers a checked token's claims. When full, the tokens expired at
// now are dropped first, and all of them if none has: what is forgotten is
// only checked again.
func (s *seenTokens) add(key [sha256.Size]byte, c idClaims, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[[sha256.Size]byte]idClaims)
	}
	if len(s.m) >= maxSeenTokens {
		for k, old := range s.m {
			if old.Exp == nil || old.Exp.Time().Add(clockSkew).Before(now) {
				delete(s.m, k)
			}
		}
		if len(s.m) >= maxSeenTokens {
			clear(s.m)
		}
	}
	s.m[key] = c
}
