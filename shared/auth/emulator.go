package auth

import (
	"fmt"
	"time"

	"threadsfunctions.dev/shared/jws"
)

// EmulatorIDToken returns an ID token for uid in projectID as the Auth
// emulator issues them: unsigned, with Firebase's claims. Only a Firebase
// verifier pointed at the emulator accepts it (against Google the
// signature is required), and only while uid exists in that project of the
// emulator and issuedAt is not before its tokens' validSince. The benchmark
// uses it for users it creates in projects of its own, where the
// emulator's client sign-in (bound to the emulator's default project)
// cannot issue tokens; tests use it for expired and revoked tokens.
func EmulatorIDToken(projectID, uid string, issuedAt, expiresAt time.Time) (string, error) {
	tok, err := jws.EncodeUnsigned(map[string]any{
		"iss":       issuerPrefix + projectID,
		"aud":       projectID,
		"sub":       uid,
		"user_id":   uid,
		"auth_time": issuedAt.Unix(),
		"iat":       issuedAt.Unix(),
		"exp":       expiresAt.Unix(),
		"firebase":  map[string]any{"identities": map[string]any{}, "sign_in_provider": "password"},
	})
	if err != nil {
		return "", fmt.Errorf("emulator ID token: %w", err)
	}
	return tok, nil
}
