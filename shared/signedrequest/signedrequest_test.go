package signedrequest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"threadsfunctions.dev/shared/httpx"
)

var (
	secret = []byte("threads-app-secret")
	now    = time.Unix(1_800_000_000, 0)
)

func mustSign(t *testing.T, p map[string]any, key []byte) string {
	t.Helper()
	s, err := Sign(p, key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signRaw signs an arbitrary encoded payload, to build malformed ones.
func signRaw(encPayload string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(encPayload))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) + "." + encPayload
}

func TestVerify(t *testing.T) {
	fresh := now.Add(-time.Minute).Unix()
	valid := mustSign(t, map[string]any{"algorithm": "HMAC-SHA256", "user_id": "17841400000000001", "issued_at": fresh}, secret)
	sig, payload, _ := strings.Cut(valid, ".")

	cases := []struct {
		name     string
		signed   string
		wantUser string
		wantCode string
	}{
		{name: "valid string user id", signed: valid, wantUser: "17841400000000001"},
		{name: "valid number user id keeps every digit",
			signed:   mustSign(t, map[string]any{"algorithm": "HMAC-SHA256", "user_id": 17841400000000003, "issued_at": fresh}, secret),
			wantUser: "17841400000000003"},
		{name: "padded base64 accepted",
			signed:   base64.URLEncoding.EncodeToString(mustDecode(sig)) + "." + payload,
			wantUser: "17841400000000001"},
		{name: "missing", signed: "", wantCode: CodeMissing},
		{name: "no dot", signed: sig + payload, wantCode: CodeMalformed},
		{name: "three parts", signed: valid + ".x", wantCode: CodeMalformed},
		{name: "truncated payload", signed: valid[:len(valid)-3], wantCode: CodeBadSig},
		{name: "truncated signature", signed: sig[:12] + "." + payload, wantCode: CodeBadSig},
		{name: "bad padding", signed: sig + "==." + payload, wantCode: CodeMalformed},
		{name: "not base64", signed: "!!!." + payload, wantCode: CodeMalformed},
		{name: "forged with another secret",
			signed:   mustSign(t, map[string]any{"algorithm": "HMAC-SHA256", "user_id": "1", "issued_at": fresh}, []byte("other")),
			wantCode: CodeBadSig},
		{name: "payload swapped under a valid signature",
			signed:   sig + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"algorithm":"HMAC-SHA256","user_id":"666","issued_at":1799999940}`)),
			wantCode: CodeBadSig},
		{name: "wrong algorithm",
			signed:   mustSign(t, map[string]any{"algorithm": "HMAC-SHA1", "user_id": "1", "issued_at": fresh}, secret),
			wantCode: CodeAlgorithm},
		{name: "no algorithm",
			signed:   mustSign(t, map[string]any{"user_id": "1", "issued_at": fresh}, secret),
			wantCode: CodeAlgorithm},
		{name: "stale",
			signed:   mustSign(t, map[string]any{"algorithm": "HMAC-SHA256", "user_id": "1", "issued_at": now.Add(-2 * time.Hour).Unix()}, secret),
			wantCode: CodeStale},
		{name: "from the future",
			signed:   mustSign(t, map[string]any{"algorithm": "HMAC-SHA256", "user_id": "1", "issued_at": now.Add(time.Hour).Unix()}, secret),
			wantCode: CodeStale},
		{name: "no user",
			signed:   mustSign(t, map[string]any{"algorithm": "HMAC-SHA256", "issued_at": fresh}, secret),
			wantCode: CodeNoUser},
		{name: "user id not an id",
			signed:   mustSign(t, map[string]any{"algorithm": "HMAC-SHA256", "user_id": 1.5, "issued_at": fresh}, secret),
			wantCode: CodeNoUser},
		{name: "payload not JSON", signed: signRaw(base64.RawURLEncoding.EncodeToString([]byte("nope"))), wantCode: CodeMalformed},
		{name: "issued_at not a number",
			signed:   mustSign(t, map[string]any{"algorithm": "HMAC-SHA256", "user_id": "1", "issued_at": "yesterday"}, secret),
			wantCode: CodeMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Verify(tc.signed, secret, now, time.Hour)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if p.UserID != tc.wantUser || p.Algorithm != "HMAC-SHA256" || p.IssuedAt.Unix() != fresh {
					t.Errorf("payload %+v", p)
				}
				return
			}
			var he *httpx.Error
			if !errors.As(err, &he) || he.Code != tc.wantCode || he.Status != 400 {
				t.Fatalf("Verify error = %v, want 400 %s", err, tc.wantCode)
			}
			if p != nil {
				t.Errorf("a payload (%+v) with the error", p)
			}
		})
	}
}

// Parse checks everything but the age, which CheckAge checks: a request
// too old still parses (thDataDeletion finds the deletion it repeats), one
// forged does not, and CheckAge tells fresh, too old and future apart.
func TestParseAndCheckAge(t *testing.T) {
	sign := func(issued time.Time) string {
		return mustSign(t, map[string]any{"algorithm": "HMAC-SHA256", "user_id": "7", "issued_at": issued.Unix()}, secret)
	}
	if _, err := Parse(mustSign(t, map[string]any{"algorithm": "HMAC-SHA256", "user_id": "7", "issued_at": now.Unix()}, []byte("other")), secret); err == nil {
		t.Error("Parse accepted a request signed with another secret")
	}
	for _, tc := range []struct {
		name   string
		issued time.Time
		stale  bool
	}{
		{"fresh", now.Add(-time.Minute), false},
		{"too old", now.Add(-2 * time.Hour), true},
		{"a minute ahead", now.Add(time.Minute), false},
		{"from the future", now.Add(2 * time.Minute), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(sign(tc.issued), secret)
			if err != nil || p.UserID != "7" || p.IssuedAt.Unix() != tc.issued.Unix() {
				t.Fatalf("Parse = %+v, %v", p, err)
			}
			err = p.CheckAge(now, time.Hour)
			var he *httpx.Error
			if stale := errors.As(err, &he) && he.Code == CodeStale; stale != tc.stale || (err != nil && !stale) {
				t.Errorf("CheckAge = %v; want stale %v", err, tc.stale)
			}
		})
	}
}

// An empty app secret is a misconfiguration: a request signed with the
// empty key (which anyone can make) is refused with a 500, never accepted.
func TestVerifyRefusesAnEmptySecret(t *testing.T) {
	payload := map[string]any{"algorithm": "HMAC-SHA256", "user_id": "1", "issued_at": now.Add(-time.Minute).Unix()}
	for _, key := range [][]byte{nil, {}} {
		_, err := Verify(mustSign(t, payload, key), key, now, time.Hour)
		var he *httpx.Error
		if !errors.As(err, &he) || he.Status != 500 || he.Code != httpx.CodeMisconfigured {
			t.Fatalf("Verify with secret %q = %v, want 500 %s", key, err, httpx.CodeMisconfigured)
		}
	}
}

func mustDecode(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
