"""Scripts run from the checkout: the demo (its client story importable as scripts.demo_story), benchmarks, set-up helpers."""
