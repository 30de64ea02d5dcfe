// Starts GOV.UK Frontend's components on every console page.
import { initAll } from './govuk-frontend.min.js'

document.body.classList.add('govuk-frontend-supported', 'js-enabled')
initAll()
