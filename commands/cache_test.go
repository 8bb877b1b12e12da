package commands

import (
	"testing"
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
