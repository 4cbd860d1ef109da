package actorpool_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/fray-go/fray"
	"github.com/fray-go/fray/actorpool"
	"github.com/fray-go/fray/backend/local"
)

// Tagger is an example model actor: its constructor runs once per actor.
var Tagger = fray.NewActor("actorpool_test.Tagger", func(_ context.Context, tag string) (*TaggerState, error) {
	return &TaggerState{tag: tag}, nil
})

// TaggerState is a Tagger's state.
type TaggerState struct{ tag string }

// Tag labels a batch of words.
var Tag = fray.NewMethod(Tagger, "Tag", func(s *TaggerState, _ context.Context, batch []string) ([]string, error) {
	out := make([]string, len(batch))
	for i, w := range batch {
		out[i] = s.tag + ":" + strings.ToUpper(w)
	}
	return out, nil
})

func Example() {
	jc, err := local.New(local.Options{Resources: fray.Resources{"CPU": 2}})
	if err != nil {
		log.Fatal(err)
	}
	defer jc.Close()
	ctx := fray.WithJobContext(context.Background(), jc)

	pool, err := actorpool.New(ctx, Tagger, "w", Tag, actorpool.Options{Size: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	out, err := pool.Map(ctx, [][]string{{"a", "b"}, {"c"}, {"d", "e"}})
	fmt.Println(out, err)

	// Submit and GetNext: results in submission order.
	for _, b := range [][]string{{"x"}, {"y"}} {
		if _, err := pool.Submit(ctx, b); err != nil {
			log.Fatal(err)
		}
	}
	for pool.HasNext() {
		fmt.Println(pool.GetNext(ctx))
	}
	// Output:
	// [[w:A w:B] [w:C] [w:D w:E]] <nil>
	// [w:X] <nil>
	// [w:Y] <nil>
}
