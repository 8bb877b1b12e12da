package commands

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestStateCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newStateCache[int](2)
	c.put("a", loaded[int]{state: 1, version: 1})
	c.put("b", loaded[int]{state: 2, version: 1})
	if _, ok := c.get("a"); !ok { // a is now the most recently used
		t.Fatal("get(a) missed right after put")
	}
	c.put("c", loaded[int]{state: 3, version: 1})
	if _, ok := c.get("b"); ok {
		t.Fatal("get(b) hit after c was added to a full cache; want b evicted as least recently used")
	}
	for _, s := range []string{"a", "c"} {
		if _, ok := c.get(s); !ok {
			t.Fatalf("get(%s) missed, want it kept", s)
		}
	}
}

func TestStateCacheKeepsLaterVersion(t *testing.T) {
	c := newStateCache[int](4)
	c.put("a", loaded[int]{state: 5, version: 5, snapshot: 4})
	c.put("a", loaded[int]{state: 3, version: 3}) // a slower loader
	got, _ := c.get("a")
	if got.state != 5 || got.version != 5 {
		t.Fatalf("after put of version 3 over 5, get = %+v, want version 5 kept", got)
	}
	c.put("a", loaded[int]{state: 6, version: 6})
	got, _ = c.get("a")
	if got.version != 6 || got.snapshot != 4 {
		t.Fatalf("after put of version 6, get = %+v, want version 6 remembering snapshot 4", got)
	}
	c.remove("a")
	if _, ok := c.get("a"); ok {
		t.Fatal("get(a) hit after remove")
	}
}

// TestStateCacheCurrent checks what current vouches for: an entry not behind what a follower of
// the log saw, checked against the store within currentFor; an entry with another event at a
// version the follower saw is removed.
func TestStateCacheCurrent(t *testing.T) {
	c := newStateCache[int](4)
	id, other := uuid.New(), uuid.New()
	c.put("a", loaded[int]{state: 1, version: 3, lastID: id})
	if _, ok := c.current("a"); !ok {
		t.Fatal("current(a) missed right after put")
	}
	c.seen("a", 3, id)
	if _, ok := c.current("a"); !ok {
		t.Fatal("current(a) missed after the follower saw its own last event")
	}
	c.seen("a", 5, uuid.New())
	if _, ok := c.current("a"); ok {
		t.Fatal("current(a) hit behind an event the follower saw")
	}
	if v, ok := c.get("a"); !ok || v.version != 3 {
		t.Fatalf("get(a) = %+v, %v; want the entry kept for loads to fold the tail", v, ok)
	}
	c.put("a", loaded[int]{state: 2, version: 5, lastID: uuid.New()})
	if v, ok := c.current("a"); !ok || v.version != 5 {
		t.Fatalf("current(a) = %+v, %v after a put at the version seen; want version 5", v, ok)
	}
	c.items["a"].Value.(*cacheEntry[int]).checked = time.Now().Add(-currentFor)
	if _, ok := c.current("a"); ok {
		t.Fatal("current(a) hit an entry not checked within currentFor")
	}
	c.put("b", loaded[int]{state: 1, version: 2, lastID: id})
	c.seen("b", 2, other)
	if _, ok := c.get("b"); ok {
		t.Fatal("get(b) hit after the follower saw another event at its version; want it removed")
	}
}
