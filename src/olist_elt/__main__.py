"""`python -m olist_elt`: the same command line as `olist-elt`."""

from olist_elt.cli import main

if __name__ == "__main__":
    main()
