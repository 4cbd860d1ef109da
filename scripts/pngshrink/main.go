// Command pngshrink makes a screenshot small enough to commit: it crops the white space
// at the right and bottom of a PNG (keeping a margin) and stores it with a 256-colour
// palette. scripts/report-screenshot.sh uses it for examples/pipeline/report.png.
//
//	go run ./scripts/pngshrink -margin 16 in.png out.png
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/png"
	"os"
)

func main() {
	margin := flag.Int("margin", 16, "white margin kept right of and below the content, in pixels")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: pngshrink [-margin N] in.png out.png")
		os.Exit(2)
	}
	if err := shrink(flag.Arg(0), flag.Arg(1), *margin); err != nil {
		fmt.Fprintln(os.Stderr, "pngshrink:", err)
		os.Exit(1)
	}
}

func shrink(in, out string, margin int) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	src, err := png.Decode(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	b := src.Bounds()
	right, bottom := b.Min.X, b.Min.Y
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if !white(src.At(x, y)) {
				right, bottom = max(right, x+1), max(bottom, y+1)
			}
		}
	}
	crop := image.Rect(b.Min.X, b.Min.Y, min(b.Max.X, right+margin), min(b.Max.Y, bottom+margin))
	// Nearest-colour mapping (no dithering) keeps text crisp; Plan 9's palette has the grays
	// that anti-aliased text needs.
	dst := image.NewPaletted(image.Rect(0, 0, crop.Dx(), crop.Dy()), palette.Plan9)
	draw.Draw(dst, dst.Bounds(), src, crop.Min, draw.Src)
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(o, dst); err != nil {
		o.Close()
		return err
	}
	return o.Close()
}

// white reports whether c is (nearly) white: the page background.
func white(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return r > 0xf800 && g > 0xf800 && b > 0xf800
}
