# A monthly cost budget that alerts the alarm topic (sns.tf; its policy lets
# budgets.amazonaws.com publish, its key lets it encrypt): once when actual
# spend passes 80 % of the limit, and once when the month's forecast passes
# the limit. AWS Budgets evaluates a few times a day: it is a guard against a
# month's surprise (a NAT gateway moving terabytes, a runaway autoscaling),
# not a real-time alarm. Two budgets per account are free.

resource "aws_budgets_budget" "monthly" {
  name         = "${var.name}-monthly"
  budget_type  = "COST"
  limit_amount = format("%.2f", local.budget_limit_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  # Whole account by default; with budget_filter_by_project_tag only what
  # carries the Project tag every resource here gets (versions.tf).
  dynamic "cost_filter" {
    for_each = var.budget_filter_by_project_tag ? [1] : []
    content {
      name   = "TagKeyValue"
      values = [format("user:Project$%s", var.name)]
    }
  }

  notification {
    notification_type         = "ACTUAL"
    comparison_operator       = "GREATER_THAN"
    threshold                 = 80
    threshold_type            = "PERCENTAGE"
    subscriber_sns_topic_arns = [aws_sns_topic.alarms.arn]
  }

  notification {
    notification_type         = "FORECASTED"
    comparison_operator       = "GREATER_THAN"
    threshold                 = 100
    threshold_type            = "PERCENTAGE"
    subscriber_sns_topic_arns = [aws_sns_topic.alarms.arn]
  }

  # Budgets checks that it may publish when the notification is created.
  depends_on = [aws_sns_topic_policy.alarms]
}
