package thdatadeletion_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"threadsfunctions.dev/functions/thdatadeletion"
	"threadsfunctions.dev/shared/app"
	"threadsfunctions.dev/shared/logging"
	"threadsfunctions.dev/shared/publish"
	"threadsfunctions.dev/shared/signedrequest"
	"threadsfunctions.dev/shared/store"
	"threadsfunctions.dev/shared/testenv"
	"threadsfunctions.dev/shared/testenv/apicheck"
)

const secret = "APP-SECRET-deletion"

type harness struct {
	t     *testing.T
	env   testenv.Env
	srv   *httptest.Server
	store *store.Store
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	e := testenv.Require(t)
	opts := thdatadeletion.Options
	opts.Lookup = e.Lookup(map[string]string{
		"THREADS_APP_SECRET":       secret,
		"DATA_DELETION_STATUS_URL": "https://fn.example.com/thDataDeletion",
	})
	opts.Logger = logging.New(io.Discard, slog.LevelInfo)
	srv := httptest.NewServer(apicheck.Handler(t, thdatadeletion.Name, app.Lazy(thdatadeletion.Name, opts, thdatadeletion.NewHandler)))
	t.Cleanup(srv.Close)
	keyring, _ := testenv.Keyring(t, "k1")
	return &harness{t: t, env: e, srv: srv, store: store.New(e.Firestore(t), keyring)}
}

func (h *harness) connectWithJobs(uid, threadsID string, jobs int) {
	h.t.Helper()
	now := time.Now()
	if err := h.store.SaveAccount(h.t.Context(), uid, store.Account{AccountID: threadsID, ExpiresAt: now.Add(50 * 24 * time.Hour),
		TokenIssuedAt: now, UpdatedAt: now, Status: store.StatusActive, Extra: store.Extra{ThreadsUserID: threadsID}}, "TOKEN"); err != nil {
		h.t.Fatal(err)
	}
	req := publish.Request{Text: "x"}
	b, _ := json.Marshal(req)
	for i := range jobs {
		if _, _, err := h.store.CreateJob(h.t.Context(), &store.Job{JobID: fmt.Sprint("job-", i), UID: uid, AccountID: threadsID,
			Status: store.JobPublished, Kind: "TEXT", Request: string(b), CreatedAt: now}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) countDocs(uid, threadsID string) (accounts, jobs int) {
	h.t.Helper()
	fs := h.env.Firestore(h.t)
	if _, err := h.store.GetAccount(h.t.Context(), uid, threadsID); err == nil {
		accounts = 1
	}
	docs, err := fs.Collection(store.AccountPath(uid, threadsID) + "/jobs").Documents(h.t.Context()).GetAll()
	if err != nil {
		h.t.Fatal(err)
	}
	return accounts, len(docs)
}

func (h *harness) post(signed string) (int, thdatadeletion.Answer, string) {
	h.t.Helper()
	resp, err := http.PostForm(h.srv.URL, url.Values{"signed_request": {signed}})
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a thdatadeletion.Answer
	_ = json.Unmarshal(b, &a)
	return resp.StatusCode, a, string(b)
}

func (h *harness) statusPage(code string) (int, string) {
	h.t.Helper()
	resp, err := http.Get(h.srv.URL + "?" + url.Values{"code": {code}}.Encode())
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func newThreadsID() string { return fmt.Sprintf("1784%013d", time.Now().UnixNano()%1e13) }

func TestDeletionRemovesEverythingAndReportsDone(t *testing.T) {
	h := newHarness(t)
	threadsID := newThreadsID()
	alice, bob := "uid-a-"+testenv.RandomID(t), "uid-b-"+testenv.RandomID(t)
	h.connectWithJobs(alice, threadsID, 450) // more than one delete batch
	h.connectWithJobs(bob, threadsID, 3)
	h.connectWithJobs(alice, "17841400000000888", 2) // someone else's data stays

	signed, _ := signedrequest.Sign(map[string]any{"algorithm": "HMAC-SHA256", "user_id": threadsID, "issued_at": time.Now().Unix()}, []byte(secret))
	code, ans, body := h.post(signed)
	if code != 200 || ans.ConfirmationCode == "" || ans.URL != "https://fn.example.com/thDataDeletion?code="+ans.ConfirmationCode {
		t.Fatalf("answer %d %s", code, body)
	}
	for _, uid := range []string{alice, bob} {
		if a, j := h.countDocs(uid, threadsID); a+j != 0 {
			t.Errorf("%s: %d account and %d job documents left", uid, a, j)
		}
	}
	if a, j := h.countDocs(alice, "17841400000000888"); a != 1 || j != 2 {
		t.Errorf("another Threads user's data touched: %d accounts, %d jobs", a, j)
	}
	status, page := h.statusPage(ans.ConfirmationCode)
	if status != 200 || !strings.Contains(page, `data-status="done"`) {
		t.Errorf("status page %d: %s", status, page)
	}
	// Meta calling again with the same request gets the same code.
	if _, again, _ := h.post(signed); again.ConfirmationCode != ans.ConfirmationCode {
		t.Errorf("repeat gave code %q, want %q", again.ConfirmationCode, ans.ConfirmationCode)
	}
	for _, c := range []string{"no-such-code", ""} {
		if status, page := h.statusPage(c); status != 404 || !strings.Contains(page, `data-status="unknown"`) {
			t.Errorf("unknown code %q: %d", c, status)
		}
	}
}

// A deletion interrupted half-way (request recorded, part of the data
// deleted) completes when the callback is retried, under the same code.
func TestInterruptedDeletionCompletesOnRetry(t *testing.T) {
	h := newHarness(t)
	threadsID := newThreadsID()
	alice, bob := "uid-a-"+testenv.RandomID(t), "uid-b-"+testenv.RandomID(t)
	h.connectWithJobs(alice, threadsID, 5)
	h.connectWithJobs(bob, threadsID, 5)
	issued := time.Now().Add(-time.Minute)

	// What an attempt that died after deleting alice's data left behind.
	sum := sha256.Sum256([]byte(threadsID + "|" + strconv.FormatInt(issued.Unix(), 10)))
	started, err := h.store.StartDeletion(t.Context(), hex.EncodeToString(sum[:]), "code-interrupted-"+testenv.RandomID(t), threadsID, issued)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.DeleteAccountData(t.Context(), alice, threadsID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if status, page := h.statusPage(started.Code); status != 200 || !strings.Contains(page, `data-status="in_progress"`) {
		t.Fatalf("status while interrupted: %d %s", status, page)
	}

	signed, _ := signedrequest.Sign(map[string]any{"algorithm": "HMAC-SHA256", "user_id": threadsID, "issued_at": issued.Unix()}, []byte(secret))
	code, ans, body := h.post(signed)
	if code != 200 || ans.ConfirmationCode != started.Code {
		t.Fatalf("retry: %d %s, want code %s", code, body, started.Code)
	}
	if a, j := h.countDocs(bob, threadsID); a+j != 0 {
		t.Errorf("bob's data left: %d account, %d jobs", a, j)
	}
	if _, page := h.statusPage(started.Code); !strings.Contains(page, `data-status="done"`) {
		t.Errorf("status after retry: %s", page)
	}
}

func TestRefusedRequestDeletesNothing(t *testing.T) {
	h := newHarness(t)
	threadsID := newThreadsID()
	uid := "uid-" + testenv.RandomID(t)
	h.connectWithJobs(uid, threadsID, 1)
	forged, _ := signedrequest.Sign(map[string]any{"algorithm": "HMAC-SHA256", "user_id": threadsID, "issued_at": time.Now().Unix()}, []byte("wrong"))
	if code, _, body := h.post(forged); code != 400 || !strings.Contains(body, signedrequest.CodeBadSig) {
		t.Errorf("forged: %d %s", code, body)
	}
	if a, j := h.countDocs(uid, threadsID); a != 1 || j != 1 {
		t.Errorf("data deleted by a refused request: %d, %d", a, j)
	}
}

func (h *harness) tombstoneExists(uid, accountID string) bool {
	h.t.Helper()
	snap, err := h.env.Firestore(h.t).Doc("users/" + uid + "/integrations/threads/disconnected/" + accountID).Get(h.t.Context())
	return err == nil && snap.Exists()
}

// A deletion request reaches the jobs and tombstones of the accounts the
// Threads user disconnected before (their account documents are gone), as
// well as the accounts still connected.
func TestDeletionReachesDisconnectedAccounts(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	now := time.Now()
	for _, tc := range []struct {
		name string
		// setup connects and disconnects accounts of threadsID and returns
		// the Firebase users that held them.
		setup func(t *testing.T, threadsID string) []string
	}{
		{"disconnected by its owner", func(t *testing.T, threadsID string) []string {
			alice := "uid-a-" + testenv.RandomID(t)
			h.connectWithJobs(alice, threadsID, 3)
			if _, err := h.store.Disconnect(ctx, alice, threadsID, now); err != nil {
				t.Fatal(err)
			}
			return []string{alice}
		}},
		{"disconnected before tombstones recorded the Threads user", func(t *testing.T, threadsID string) []string {
			alice := "uid-a-" + testenv.RandomID(t)
			h.connectWithJobs(alice, threadsID, 2)
			if _, err := h.store.Disconnect(ctx, alice, threadsID, now); err != nil {
				t.Fatal(err)
			}
			// The tombstone as Disconnect wrote it before this change.
			if _, err := h.env.Firestore(t).Doc("users/"+alice+"/integrations/threads/disconnected/"+threadsID).Set(ctx,
				map[string]any{"accountId": threadsID, "disconnectedAt": now}); err != nil {
				t.Fatal(err)
			}
			return []string{alice}
		}},
		{"disconnected under one user, connected under another", func(t *testing.T, threadsID string) []string {
			alice, bob := "uid-a-"+testenv.RandomID(t), "uid-b-"+testenv.RandomID(t)
			h.connectWithJobs(alice, threadsID, 3)
			h.connectWithJobs(bob, threadsID, 3)
			if _, err := h.store.Disconnect(ctx, alice, threadsID, now); err != nil {
				t.Fatal(err)
			}
			return []string{alice, bob}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			threadsID := newThreadsID()
			uids := tc.setup(t, threadsID)
			// Someone else's disconnected account stays as it is.
			other, otherID := "uid-o-"+testenv.RandomID(t), newThreadsID()
			h.connectWithJobs(other, otherID, 1)
			if _, err := h.store.Disconnect(ctx, other, otherID, now); err != nil {
				t.Fatal(err)
			}

			signed, _ := signedrequest.Sign(map[string]any{"algorithm": "HMAC-SHA256", "user_id": threadsID, "issued_at": time.Now().Unix()}, []byte(secret))
			code, ans, body := h.post(signed)
			if code != 200 || ans.ConfirmationCode == "" {
				t.Fatalf("answer %d %s", code, body)
			}
			for _, uid := range uids {
				if a, j := h.countDocs(uid, threadsID); a+j != 0 || h.tombstoneExists(uid, threadsID) {
					t.Errorf("%s: %d account and %d job documents left, tombstone %v", uid, a, j, h.tombstoneExists(uid, threadsID))
				}
			}
			if _, j := h.countDocs(other, otherID); j != 1 || !h.tombstoneExists(other, otherID) {
				t.Errorf("another Threads user's disconnected account touched: %d jobs, tombstone %v", j, h.tombstoneExists(other, otherID))
			}
			if _, page := h.statusPage(ans.ConfirmationCode); !strings.Contains(page, `data-status="done"`) {
				t.Errorf("status: %s", page)
			}
		})
	}
}

// A retry of a recorded deletion resumes it even once its signed_request is
// older than SIGNED_REQUEST_MAX_AGE; the age still refuses new requests.
func TestStaleRetryResumesRecordedDeletion(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	stale := time.Unix(time.Now().Add(-3*time.Hour).Unix(), 0)
	for _, tc := range []struct {
		name   string
		issued time.Time
		key    string // the signing key; "": the app secret
		// record: the state a first, fresh attempt left ("": none).
		record   string
		wantCode int
		wantErr  string // the error code of a refusal
	}{
		{name: "interrupted, retried after the max age", issued: stale, record: store.DeletionInProgress, wantCode: 200},
		{name: "done, repeated after the max age", issued: stale, record: store.DeletionDone, wantCode: 200},
		{name: "never recorded", issued: stale, wantCode: 400, wantErr: signedrequest.CodeStale},
		{name: "recorded, but not signed with the app secret", issued: stale, key: "wrong", record: store.DeletionInProgress, wantCode: 400, wantErr: signedrequest.CodeBadSig},
		{name: "recorded, issued too far ahead", issued: time.Unix(time.Now().Add(2*time.Hour).Unix(), 0), record: store.DeletionInProgress, wantCode: 400, wantErr: signedrequest.CodeStale},
	} {
		t.Run(tc.name, func(t *testing.T) {
			threadsID := newThreadsID()
			alice, bob := "uid-a-"+testenv.RandomID(t), "uid-b-"+testenv.RandomID(t)
			h.connectWithJobs(alice, threadsID, 2)
			h.connectWithJobs(bob, threadsID, 2)
			var started *store.DeletionRequest
			if tc.record != "" {
				var err error
				started, err = h.store.StartDeletion(ctx, thdatadeletion.DeletionKey(threadsID, tc.issued), "code-"+testenv.RandomID(t), threadsID, tc.issued)
				if err != nil {
					t.Fatal(err)
				}
				// The first attempt deleted alice's data, then stopped (or finished).
				if err := h.store.DeleteAccountData(ctx, alice, threadsID, time.Now()); err != nil {
					t.Fatal(err)
				}
				if tc.record == store.DeletionDone {
					if err := h.store.CompleteDeletion(ctx, started.Code, tc.issued); err != nil {
						t.Fatal(err)
					}
				}
			}

			key := tc.key
			if key == "" {
				key = secret
			}
			signed, _ := signedrequest.Sign(map[string]any{"algorithm": "HMAC-SHA256", "user_id": threadsID, "issued_at": tc.issued.Unix()}, []byte(key))
			code, ans, body := h.post(signed)
			if code != tc.wantCode || (tc.wantErr != "" && !strings.Contains(body, `"`+tc.wantErr+`"`)) {
				t.Fatalf("answer %d %s, want %d %s", code, body, tc.wantCode, tc.wantErr)
			}
			_, bobJobs := h.countDocs(bob, threadsID)
			switch {
			case tc.wantCode != 200:
				if bobJobs != 2 {
					t.Errorf("a refused request deleted data: bob has %d jobs", bobJobs)
				}
				if tc.record == "" {
					if _, err := h.store.FindDeletion(ctx, thdatadeletion.DeletionKey(threadsID, tc.issued)); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("a refused request was recorded: %v", err)
					}
				}
			case ans.ConfirmationCode != started.Code:
				t.Errorf("code %q, want the recorded %q", ans.ConfirmationCode, started.Code)
			case tc.record == store.DeletionInProgress:
				if a, j := h.countDocs(bob, threadsID); a+j != 0 {
					t.Errorf("bob's data left: %d account, %d jobs", a, j)
				}
				if _, page := h.statusPage(started.Code); !strings.Contains(page, `data-status="done"`) {
					t.Errorf("status after the resumed deletion: %s", page)
				}
			}
		})
	}
}
