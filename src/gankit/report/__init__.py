"""Reading finished runs: the HTML report and the comparison of games over seeds."""
