package steps

import (
	"context"
	"fmt"

	"github.com/fray-go/fray/processing/shards"
)

// readAll reads every record of the JSONL shards matching glob.
func readAll[T any](ctx context.Context, glob string) ([]T, error) {
	paths, err := shards.Glob(ctx, glob)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no shards match %s", glob)
	}
	var out []T
	for _, p := range paths {
		for v, err := range shards.Read[T](ctx, p) {
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, nil
}
