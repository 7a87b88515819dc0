// Written by the query work in progress.
